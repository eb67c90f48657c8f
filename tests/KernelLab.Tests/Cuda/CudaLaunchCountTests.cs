using System.Runtime.InteropServices;
using KernelLab.Backends;
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
/// The kernel launches and host-device copies of one steady-state training step (forward, backward, the suite's
/// optimizer) of every standard workload on the cuda backend, counted by the CUDA emulator (its kernellabEmulatorCounts).
/// On a GPU each launch costs microseconds of host time, which at the standard sizes is most of a step; the copy is
/// the loss, read (synchronously) before the optimizer runs. The counts here are what a change to the step's launches
/// is measured by.
/// </summary>
[Collection(nameof(CudaEmulatorAlone))]
public sealed class CudaLaunchCountTests
{
    private const int WarmUpSteps = 2;

    private static readonly OptimizerSettings StandardOptimizer = Suite.Load(Path.Combine(AppContext.BaseDirectory, "suites", "standard.json")).Optimizer;

    [Theory]
    [InlineData("mlp", 28, 1)]
    [InlineData("cnn", 41, 1)]
    [InlineData("lstm", 186, 1)]
    [InlineData("transformer", 121, 1)]
    public void TrainingStep_LaunchesAndCopies(string workload, int launches, int copies)
    {
        CudaEmulatorTests.RequireEmulator();
        using var backend = TestBackends.CreateOrSkip("cuda");
        using var network = StandardWorkloads.Open(backend, workload);
        using var optimizer = new Optimizer(backend, network.Parameters.All, StandardOptimizer);
        for (int i = 0; i < WarmUpSteps; i++)
            optimizer.Step(network);
        var before = EmulatorCounts.Read();
        optimizer.Step(network);
        var step = EmulatorCounts.Read() - before;
        Assert.True(step == new EmulatorCounts(launches, 0, copies),
            $"{workload}: a training step made {step}, expected {new EmulatorCounts(launches, 0, copies)}");
    }
}

/// <summary>What the CUDA emulator has counted in this process (kernellabEmulatorCounts, an export of its own).</summary>
internal readonly record struct EmulatorCounts(long KernelLaunches, long GraphLaunches, long Copies)
{
    public static unsafe EmulatorCounts Read()
    {
        var counts = (delegate* unmanaged<ulong*, ulong*, ulong*, int>)NativeLibrary.GetExport(NativeLibrary.Load("libcuda.so.1"), "kernellabEmulatorCounts");
        ulong kernels, graphs, copies;
        Assert.Equal(0, counts(&kernels, &graphs, &copies));
        return new((long)kernels, (long)graphs, (long)copies);
    }

    public static EmulatorCounts operator -(EmulatorCounts a, EmulatorCounts b) =>
        new(a.KernelLaunches - b.KernelLaunches, a.GraphLaunches - b.GraphLaunches, a.Copies - b.Copies);

    public override string ToString() => $"{KernelLaunches} kernel launches, {GraphLaunches} graph launches and {Copies} copies";
}
