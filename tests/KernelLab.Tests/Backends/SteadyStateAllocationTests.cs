using KernelLab.Backends;
using KernelLab.Models.Training;

namespace KernelLab.Tests;

/// <summary>Runs alone: it counts the bytes that every thread of the process allocates.</summary>
[CollectionDefinition(nameof(AllocationCounting), DisableParallelization = true)]
public sealed class AllocationCounting;

/// <summary>
/// A steady-state training step (forward, backward, AdamW) of every standard workload allocates no managed memory on
/// cpu-simd: buffers are planned by the network, scratch memory by the backend, once, during the warm-up steps.
/// Counted over every thread (the backend's workers too), with the other tests held off.
/// </summary>
[Collection(nameof(AllocationCounting))]
public sealed class SteadyStateAllocationTests
{
    private const int WarmUpSteps = 3, MeasuredSteps = 3, Windows = 5;

    public static TheoryData<string> Workloads => new(StandardWorkloads.Names);

    [Theory]
    [MemberData(nameof(Workloads))]
    public void TrainingStepAllocatesNothing(string workload)
    {
        using var backend = TestBackends.CreateOrSkip("cpu-simd");
        using var network = StandardWorkloads.Open(backend, workload);
        using var optimizer = new Optimizer(backend, network.Parameters.All, OptimizerSettings.Defaults(OptimizerKind.AdamW, 1e-3));
        for (int i = 0; i < WarmUpSteps; i++)
            Step();
        // The fewest bytes of a few windows: the test host's own threads (result reporting, the tiered JIT) allocate now
        // and then, while a training step that allocates does so in every window.
        long fewest = long.MaxValue;
        for (int window = 0; window < Windows && fewest > 0; window++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < MeasuredSteps; i++)
                Step();
            fewest = Math.Min(fewest, GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        Assert.True(fewest == 0, $"{workload}: {fewest} bytes allocated over {MeasuredSteps} steady-state steps (the fewest of {Windows} tries)");

        void Step() => optimizer.Step(network);
    }
}
