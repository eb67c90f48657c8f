using KernelLab.Backends;
using KernelLab.Backends.Reference;

namespace KernelLab.Tests;

/// <summary>The reference backend against PyTorch in float64 (tools/torch_golden.py): per tensor error &lt;= 1e-6.</summary>
public sealed class GoldenTests
{
    [Theory]
    [MemberData(nameof(GoldenCase.Names), MemberType = typeof(GoldenCase))]
    public void ReferenceGradientsMatchPyTorch(string name)
    {
        var golden = GoldenCase.Load(name);
        using var backend = new ReferenceBackend();
        using var network = golden.Open(backend);

        var (loss, grads) = NetworkResults.Gradients(network);

        NetworkResults.AssertMatches(TensorComparison.Compare("loss", [loss], golden.Gradients.ReadReal("loss", []), TensorComparison.Float64Tolerance));
        Assert.Equal(golden.Gradients.Tensors.Select(t => t.Name).Where(n => n != "loss").Order(), grads.Keys.Order());
        foreach (var p in network.Parameters.All)
        {
            var expected = golden.Gradients.ReadReal(p.Name, p.Shape.ToArray());
            NetworkResults.AssertMatches(TensorComparison.Compare(p.Name, grads[p.Name], expected, TensorComparison.Float64Tolerance));
        }
    }

    [Theory]
    [MemberData(nameof(GoldenCase.Names), MemberType = typeof(GoldenCase))]
    public void ReferenceTrainingMatchesPyTorch(string name)
    {
        var golden = GoldenCase.Load(name);
        using var backend = new ReferenceBackend();
        int trajectories = 0;
        foreach (var (settings, schedule, expected, expectedLrs) in golden.Trajectories())
        {
            using var network = golden.Open(backend);
            var (losses, lrs) = NetworkResults.Train(network, settings, schedule, expected.Length);
            NetworkResults.AssertMatches(TensorComparison.Compare($"{settings.Kind} losses ({settings}, {schedule})", losses, expected, TensorComparison.Float64Tolerance));
            if (expectedLrs is not null)
                NetworkResults.AssertMatches(TensorComparison.Compare($"{settings.Kind} learning rates ({schedule})", lrs, expectedLrs, 1e-12));
            trajectories++;
        }
        Assert.True(trajectories > 0, $"{name} has no trajectory");
    }
}
