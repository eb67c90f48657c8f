using KernelLab.Backends;
using KernelLab.Models.Networks;
using KernelLab.Backends.Reference;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>The op cases of a suite's workloads, recorded from one training step of each: what the layers call, each case once.</summary>
public sealed class WorkloadOpCasesTests
{
    private static readonly Suite Smoke = Suite.Load(SuiteTestBase.Bundled("smoke"));

    private static IReadOnlyList<WorkloadOpCase> SmokeCases() =>
        WorkloadOpCases.For(Smoke.Workloads.Select(w => (w.Name, w.Model, w.Shape)), Smoke.Optimizer);

    [Fact]
    public void EachCaseOncePerWorkloadInTheOrderOfFirstUse()
    {
        var cases = SmokeCases();
        foreach (var workload in cases.GroupBy(c => c.Workload))
            Assert.Equal(workload.Select(c => c.Case.Name).Distinct(), workload.Select(c => c.Case.Name));
        // mlp [20, 16, 10] at batch 4: the first op of the step is the first layer's forward GEMM, x W^T.
        Assert.Equal(("mlp", "gemm m=4 n=16 k=20 transposeA=False transposeB=True accumulate=False"), (cases[0].Workload, cases[0].Case.Name));
        Assert.Equal(Smoke.Workloads.Select(w => w.Name), cases.Select(c => c.Workload).Distinct());
    }

    [Fact]
    public void EveryOpOfTheFamiliesIsThere_AsTheLayersCallIt()
    {
        var names = SmokeCases().Select(c => c.Case.Name).ToHashSet();
        foreach (string name in new[]
        {
            "bias outer=4 channels=16 inner=1 accumulate=False",                   // mlp
            "conv2d B=2 in=1 out=4 H=8 W=8 k=3", "maxpool planes=8 H=8 W=8 ties=False", // cnn
            "embedding count=8 vocab=16 dim=8", "lstm batch=2 hidden=8 dcPrevIsDc=True", "fill n=16", // lstm: dc cleared, written over
            "gemm m=2 n=32 k=8 transposeA=False transposeB=True accumulate=True",  // lstm: += h W_hh^T
            "layernorm rows=8 cols=8", "attention B=2 T=4 C=8 heads=2",           // transformer
            "add n=64", "add into a n=64", "GeluTanh in place n=128",
            "softmax cross-entropy rows=4 classes=10",
        })
            Assert.Contains(name, names);
    }

    /// <summary>The runs of each case in one step: a forward and its backward are one run of their case.</summary>
    [Theory]
    [InlineData("mlp", "gemm m=4 n=16 k=20 transposeA=False transposeB=True accumulate=False", 1)]
    // The hidden layer's ReLU: its forward writes a new tensor, its backward works in place; each case runs both, so the step
    // runs half of each.
    [InlineData("mlp", "Relu n=64", 0.5)]
    [InlineData("mlp", "Relu in place n=64", 0.5)]
    [InlineData("lstm", "lstm batch=2 hidden=8 dcPrevIsDc=True", 4)]                              // seq 4: one cell a time step
    [InlineData("lstm", "gemm m=2 n=32 k=8 transposeA=False transposeB=True accumulate=True", 3)] // h W_hh^T after the first step, h0 = 0
    [InlineData("transformer", "layernorm rows=8 cols=8", 3)]                                     // 1 block: two, and the final one
    [InlineData("transformer", "attention B=2 T=4 C=8 heads=2", 1)]
    public void RunsPerStepCountAForwardAndItsBackwardOnce(string workload, string name, double runs)
    {
        var c = SmokeCases().Single(c => c.Workload == workload && c.Case.Name == name);
        using var recorder = new OpRecorder();
        Assert.Equal(runs, recorder.RunsPerStep(c.Case, c.Calls));
    }

    [Fact]
    public void TheOptimizerStepsEveryParameterTensorInOneCall()
    {
        var mlp = Smoke.Workloads.Single(w => w.Name == "mlp");
        using var reference = new ReferenceBackend();
        using var network = Network.Create(reference, mlp.Model, mlp.Shape);
        long[] lengths = [.. network.Parameters.All.Select(p => p.Length)];
        Assert.Equal([OpCases.OptimizerStepsOverTensors(Smoke.Optimizer, lengths, steps: 1).Name],
            SmokeCases().Where(c => c.Workload == "mlp" && c.Case.Op.Contains(" step", StringComparison.Ordinal)).Select(c => c.Case.Name));
    }

    [Fact]
    public void OnlyTheOpsInsideRecordAreRecorded()
    {
        using var recorder = new OpRecorder();
        using var buffer = recorder.Allocate(5);
        recorder.Fill(buffer, 1);
        var cases = recorder.Record(() =>
        {
            recorder.Add(buffer, buffer, buffer, 5);
            recorder.Add(buffer, buffer, buffer, 5);
            recorder.ActivationForward(Activation.Relu, buffer, buffer, 5);
        });
        Assert.Equal([("add into a n=5", 2), ("Relu in place n=5", 1)], cases.Select(c => (c.Case.Name, c.Calls)));
        recorder.Fill(buffer, 0);
        Assert.Empty(recorder.Record(() => { }));
        var values = new double[5];
        recorder.CopyOut(buffer, values);
        Assert.All(values, v => Assert.Equal(0, v)); // the ops run, recorded or not
    }
}
