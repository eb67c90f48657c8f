using System.Diagnostics;
using KernelLab.Backends;
using KernelLab.Backends.Conformance;
using KernelLab.Results;

namespace KernelLab.Suites;

/// <summary>
/// <c>kernellab ops</c>: every op case of a suite's workloads (backends/Conformance) checked on one backend against
/// the reference, with fresh random inputs and poisoned outputs, and timed only when it matched.
/// Each op is warmed up for <paramref name="warmupSeconds"/> before it is timed: long enough for the runtime to replace
/// the first code of hot methods (tier 0, and the ReadyToRun code of System.Numerics.Tensors, 20x slower here) with
/// optimised code, so that the time is the op's steady state rather than its start-up.
/// </summary>
public sealed class OpsRunner(Backend backend, int minRepeats = 5, double minSeconds = 0.05, double warmupSeconds = 0.2)
{
    public IEnumerable<OpRecord> Run(Suite suite)
    {
        var cases = WorkloadOpCases.For(suite.Workloads.Select(w => (w.Name, w.Model, w.Shape)), suite.Optimizer);
        foreach (var (workload, opCase) in cases)
            yield return RunOne(workload, opCase);
    }

    private OpRecord RunOne(string workload, OpCase opCase)
    {
        var record = new OpRecord(workload, opCase.Op, opCase.Shape, Passed: false, Repeats: 0, Flop: opCase.Flop, Bytes: opCase.Bytes(backend.Precision));
        OpCheckResult check;
        try
        {
            check = opCase.Check(backend);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return record with { Error = $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}" };
        }
        var worst = check.Tensors.MaxBy(t => t.MaxError);
        record = record with { MaxErr = double.IsFinite(check.MaxError) ? check.MaxError : null, Worst = worst?.Name };
        if (!check.Passed)
            return record with { Error = check.Failures.ReplaceLineEndings("; ") };

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
        return record with { Passed = true, MedianMs = Statistics.Median(samples), MinMs = samples.Min(), Repeats = samples.Count };
    }
}
