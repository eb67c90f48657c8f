using System.Runtime.InteropServices;
using KernelLab.Backends;
using KernelLab.Models.Networks;
using KernelLab.Models.Training;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>
/// Runs alone: it counts every launch and copy of the process, or captures a stream, which (in the global capture mode)
/// fails every other thread's copies.
/// </summary>
[CollectionDefinition(nameof(CudaEmulatorAlone), DisableParallelization = true)]
public sealed class CudaEmulatorAlone;

/// <summary>
/// What one steady-state training step (forward, backward, the suite's optimizer) of a workload asks of the cuda backend,
/// counted by the CUDA emulator (its kernellabEmulatorCounts): one graph launch and no kernel launch of its own, since the
/// optimizer runs the step as a <see cref="StepGraph"/>, and the copies of the loss (and the L1 penalty, where the suite
/// has l1) after it. On a GPU each launch costs microseconds of host time, which at the standard sizes is most of a step;
/// the kernels the graph runs are what a change to the step's kernels is measured by. The update of the parameters is
/// one kernel (the multi-tensor optimizer step) after L1's and clipping's, and it copies nothing: the tensors' device
/// table is written on the first step. The cnn's kernels include a second pass for each convolution's weight gradient,
/// which adds up its slices.
/// </summary>
[Collection(nameof(CudaEmulatorAlone))]
public sealed class CudaLaunchCountTests
{
    private const int WarmUpSteps = 2;

    [Theory]
    [InlineData("standard", "mlp", 21, 1, 1)]
    [InlineData("standard", "cnn", 32, 1, 1)]
    [InlineData("standard", "lstm", 182, 1, 1)]
    [InlineData("standard", "transformer", 100, 1, 1)]
    [InlineData("smoke", "mlp-regularised", 54, 2, 27)] // dropout, batch norm, l1 (its penalty: the second copy) and clipping
    [InlineData("smoke", "transformer-dropout", 174, 2, 81)]
    public void TrainingStep_IsOneGraphLaunch(string suiteName, string workload, int kernels, int copies, int updateKernels)
    {
        CudaEmulatorTests.RequireEmulator();
        var suite = Suite.Load(Path.Combine(AppContext.BaseDirectory, "suites", suiteName + ".json"));
        var w = suite.Workloads.Single(x => x.Name == workload);
        using var backend = TestBackends.CreateOrSkip("cuda");
        using var network = Network.CreateSeeded(backend, w.Model, w.Shape, suite.Seed); // the suite's own shape: the GEMMs' split of k depends on it
        using var optimizer = new Optimizer(backend, network.Parameters.All, suite.Optimizer);
        for (int i = 0; i < WarmUpSteps; i++)
            optimizer.Step(network);
        var before = EmulatorCounts.Read();
        optimizer.Step(network);
        var step = EmulatorCounts.Read() - before;
        var expected = new EmulatorCounts(0, 1, kernels, copies);
        Assert.True(step == expected, $"{workload}: a training step made {step}, expected {expected}");
        network.ComputeGradients();
        before = EmulatorCounts.Read();
        optimizer.Update(); // op by op, outside the step graph
        var update = EmulatorCounts.Read() - before;
        expected = new EmulatorCounts(updateKernels, 0, 0, copies - 1);
        Assert.True(update == expected, $"{workload}: the optimizer's update made {update}, expected {expected}");
    }
}

/// <summary>What the CUDA emulator has counted in this process (kernellabEmulatorCounts, an export of its own).</summary>
internal readonly record struct EmulatorCounts(long KernelLaunches, long GraphLaunches, long GraphKernels, long Copies)
{
    public static unsafe EmulatorCounts Read()
    {
        var counts = (delegate* unmanaged<ulong*, ulong*, ulong*, ulong*, int>)NativeLibrary.GetExport(NativeLibrary.Load("libcuda.so.1"), "kernellabEmulatorCounts");
        ulong kernels, graphs, graphKernels, copies;
        Assert.Equal(0, counts(&kernels, &graphs, &graphKernels, &copies));
        return new((long)kernels, (long)graphs, (long)graphKernels, (long)copies);
    }

    public static EmulatorCounts operator -(EmulatorCounts a, EmulatorCounts b) =>
        new(a.KernelLaunches - b.KernelLaunches, a.GraphLaunches - b.GraphLaunches, a.GraphKernels - b.GraphKernels, a.Copies - b.Copies);

    public override string ToString() => $"{KernelLaunches} kernel launches, {GraphLaunches} graph launches running {GraphKernels} kernels, and {Copies} copies";
}
