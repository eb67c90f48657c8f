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

        Assert.Equal(golden.Gradients.Tensors.Select(t => t.Name).Where(n => n != "loss").Order(), grads.Keys.Order());
        var expected = network.Parameters.All.ToDictionary(p => p.Name, p => golden.Gradients.ReadReal(p.Name, p.Shape.ToArray()));
        foreach (var result in network.CompareGradients(loss, grads, golden.Gradients.ReadReal("loss", [])[0], expected, TensorComparison.Float64Tolerance))
            NetworkResults.AssertMatches(result);
    }

    [Theory]
    [MemberData(nameof(GoldenCase.Names), MemberType = typeof(GoldenCase))]
    public void ReferenceTrainingMatchesPyTorch(string name)
    {
        var golden = GoldenCase.Load(name);
        using var backend = new ReferenceBackend();
        int trajectories = 0;
        foreach (var t in golden.Trajectories())
        {
            using var network = golden.Open(backend);
            var (losses, lrs) = NetworkResults.Train(network, t.Settings, t.Schedule, t.Losses.Length);
            string what = $"{t.Settings.Kind} ({t.Settings}, {t.Schedule})";
            NetworkResults.AssertMatches(TensorComparison.Compare($"{what} losses", losses, t.Losses, TensorComparison.Float64Tolerance));
            if (t.Lrs is not null)
                NetworkResults.AssertMatches(TensorComparison.Compare($"{what} learning rates", lrs, t.Lrs, 1e-12));
            // Batch norm: the running statistics after training, and the loss in eval mode, which reads them.
            var buffers = NetworkResults.Buffers(network);
            var expectedBuffers = t.Buffers ?? [];
            Assert.Equal(expectedBuffers.Keys.Order(), buffers.Keys.Order());
            foreach (var (buffer, expected) in expectedBuffers)
                NetworkResults.AssertMatches(TensorComparison.Compare($"{what} {buffer}", buffers[buffer], expected, TensorComparison.Float64Tolerance));
            if (t.EvalLoss is { } evalLoss)
                NetworkResults.AssertMatches(TensorComparison.Compare($"{what} eval-mode loss", [NetworkResults.EvalLoss(network)], [evalLoss], TensorComparison.Float64Tolerance));
            trajectories++;
        }
        Assert.True(trajectories > 0, $"{name} has no trajectory");
    }
}
