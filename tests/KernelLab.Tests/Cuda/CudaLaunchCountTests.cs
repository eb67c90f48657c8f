using System.Runtime.InteropServices;
using KernelLab.Backends;
using KernelLab.Models.Training;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>Runs alone: it counts every kernel launch and copy of the process.</summary>
[CollectionDefinition(nameof(LaunchCounting), DisableParallelization = true)]
public sealed class LaunchCounting;

/// <summary>
/// The kernel launches and host-device copies of one steady-state training step (forward, backward, the suite's
/// optimizer) of every standard workload on the cuda backend, counted by the CUDA emulator (its kernellabEmulatorCounts).
/// On a GPU each launch costs microseconds of host time, which at the standard sizes is most of a step; the copy is
/// the loss, read (synchronously) before the optimizer runs. The counts here are what a change to the step's launches
/// is measured by.
/// </summary>
[Collection(nameof(LaunchCounting))]
public sealed unsafe class CudaLaunchCountTests
{
    private const int WarmUpSteps = 2;

    private static readonly OptimizerSettings StandardOptimizer = Suite.Load(Path.Combine(AppContext.BaseDirectory, "suites", "standard.json")).Optimizer;

    [Theory]
    [InlineData("mlp", 27, 1)]
    [InlineData("cnn", 40, 1)]
    [InlineData("lstm", 153, 1)]
    [InlineData("transformer", 114, 1)]
    public void TrainingStep_LaunchesAndCopies(string workload, int launches, int copies)
    {
        CudaEmulatorTests.RequireEmulator();
        using var backend = TestBackends.CreateOrSkip("cuda");
        using var network = StandardWorkloads.Open(backend, workload);
        using var optimizer = new Optimizer(backend, network.Parameters.All, StandardOptimizer);
        for (int i = 0; i < WarmUpSteps; i++)
            SuiteRunner.TrainingStep(network, optimizer);
        var before = Counts();
        SuiteRunner.TrainingStep(network, optimizer);
        var after = Counts();
        Assert.True((after.Launches - before.Launches, after.Copies - before.Copies) == (launches, copies),
            $"{workload}: a training step made {after.Launches - before.Launches} kernel launches and {after.Copies - before.Copies} copies, expected {launches} and {copies}");
    }

    private static (long Launches, long Copies) Counts()
    {
        var counts = (delegate* unmanaged<ulong*, ulong*, int>)NativeLibrary.GetExport(NativeLibrary.Load("libcuda.so.1"), "kernellabEmulatorCounts");
        ulong launches, copies;
        Assert.Equal(0, counts(&launches, &copies));
        return ((long)launches, (long)copies);
    }
}
