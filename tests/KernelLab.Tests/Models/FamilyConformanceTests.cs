using KernelLab.Backends;
using KernelLab.Backends.Reference;
using KernelLab.Models;
using KernelLab.Models.Networks;

namespace KernelLab.Tests;

/// <summary>
/// Every backend's network gradients and training against the reference's on the same parameters and
/// batch, at the backend's tolerance: the odd golden configs and the standard workloads of suites/standard.json.
/// </summary>
public sealed class FamilyConformanceTests
{
    private const int TrainingSteps = 3;

    public static TheoryData<string, string> GoldenRows => Cross(GoldenCase.All);

    public static TheoryData<string, string> StandardRows => Cross(StandardWorkloads.Names);

    [Theory]
    [MemberData(nameof(GoldenRows))]
    public void GoldenCaseMatchesReference(string backendName, string caseName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        var golden = GoldenCase.Load(caseName);
        using var reference = new ReferenceBackend();
        AssertSameGradientsAndTraining(golden.Open(backend), golden.Open(reference));
    }

    [Theory]
    [MemberData(nameof(StandardRows))]
    public void StandardWorkloadMatchesReference(string backendName, string workload)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        using var reference = new ReferenceBackend();
        AssertSameGradientsAndTraining(StandardWorkloads.Open(backend, workload), StandardWorkloads.Open(reference, workload));
    }

    private static void AssertSameGradientsAndTraining(Network network, Network reference)
    {
        using (network)
        using (reference)
        {
            double tolerance = TensorComparison.ToleranceFor(network.Backend.Precision);
            var (loss, grads) = NetworkResults.Gradients(network);
            var (refLoss, refGrads) = NetworkResults.Gradients(reference);
            foreach (var result in network.CompareGradients(loss, grads, refLoss, refGrads, tolerance))
                NetworkResults.AssertMatches(result);
            // Batch norm's buffers after that train-mode forward, and the eval-mode loss that reads them. Not after the AdamW
            // steps: there the bias before a batch norm, whose gradient is rounding noise, moves by up to lr a step in float32
            // (noise near Adam's eps) and not in float64 (noise far below it), and the running mean follows it; the train-mode
            // loss does not depend on that bias. The golden tests check the buffers after 5 steps in float64 against PyTorch's.
            var refBuffers = NetworkResults.Buffers(reference);
            foreach (var (name, values) in NetworkResults.Buffers(network))
                NetworkResults.AssertMatches(TensorComparison.Compare(name, values, refBuffers[name], tolerance));
            NetworkResults.AssertMatches(TensorComparison.Compare("eval-mode loss", [NetworkResults.EvalLoss(network)], [NetworkResults.EvalLoss(reference)], tolerance));

            var settings = OptimizerSettings.Defaults(OptimizerKind.AdamW, 0.01);
            NetworkResults.AssertMatches(TensorComparison.Compare("AdamW losses",
                NetworkResults.Train(network, settings, TrainingSteps), NetworkResults.Train(reference, settings, TrainingSteps), tolerance));
        }
    }

    private static TheoryData<string, string> Cross(IEnumerable<string> cases)
    {
        var rows = new TheoryData<string, string>();
        foreach (var backend in TestBackends.NamesComparedWithReference)
            foreach (var c in cases)
                rows.Add(backend, c);
        return rows;
    }
}
