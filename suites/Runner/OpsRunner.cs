using System.Diagnostics;
using KernelLab.Backends;
using KernelLab.Backends.Conformance;

namespace KernelLab.Suites;

/// <summary>One op at one shape: its check against the reference, then, when it passed, its time.</summary>
public sealed record OpResult(string Workload, string Op, string Shape, bool Passed, double? MaxErr, string? Worst, string? Error,
    double? MedianMs, double? MinMs, int Repeats);

/// <summary>
/// <c>kernellab ops</c>: every op case of a suite's workloads (backends/Conformance) checked on one backend against
/// the reference, with fresh random inputs and poisoned outputs, and timed only when it matched.
/// Each op is warmed up for <paramref name="warmupSeconds"/> before it is timed: long enough for the runtime to replace
/// the first code of hot methods (tier 0, and the ReadyToRun code of System.Numerics.Tensors, 20x slower here) with
/// optimised code, so that the time is the op's steady state rather than its start-up.
/// </summary>
public sealed class OpsRunner(Backend backend, int minRepeats = 5, double minSeconds = 0.05, double warmupSeconds = 0.2)
{
    public IEnumerable<OpResult> Run(Suite suite)
    {
        var cases = WorkloadOpCases.For(suite.Workloads.Select(w => (w.Name, w.Model, w.Shape)), suite.Optimizer);
        foreach (var (workload, opCase) in cases)
            yield return RunOne(workload, opCase);
    }

    private OpResult RunOne(string workload, OpCase opCase)
    {
        OpCheckResult check;
        try
        {
            check = opCase.Check(backend);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new OpResult(workload, opCase.Op, opCase.Shape, false, null, null, $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}", null, null, 0);
        }
        var worst = check.Tensors.MaxBy(t => t.MaxError);
        double? maxErr = double.IsFinite(check.MaxError) ? check.MaxError : null;
        if (!check.Passed)
            return new OpResult(workload, opCase.Op, opCase.Shape, false, maxErr, worst?.Name, check.Failures.ReplaceLineEndings("; "), null, null, 0);

        using var buffers = opCase.Inputs.Allocate(backend);
        var clock = Stopwatch.StartNew();
        do
        {
            opCase.Run(backend, buffers);
        }
        while (clock.Elapsed.TotalSeconds < warmupSeconds);
        backend.Synchronize();

        var timer = backend.CreateTimer();
        var samples = new List<double>();
        clock.Restart();
        while (samples.Count < minRepeats || clock.Elapsed.TotalSeconds < minSeconds)
        {
            timer.Start();
            opCase.Run(backend, buffers);
            samples.Add(timer.Stop());
        }
        return new OpResult(workload, opCase.Op, opCase.Shape, true, maxErr, worst?.Name, null, Statistics.Median(samples), samples.Min(), samples.Count);
    }
}
