using KernelLab.Backends;
using KernelLab.Backends.Conformance;
using KernelLab.Results;

namespace KernelLab.Suites;

/// <summary>
/// <c>kernellab ops</c>: every op case of a suite's workloads (backends/Conformance) checked on one backend against
/// the reference, with fresh random inputs and poisoned outputs, and timed only when it matched.
/// Each op runs once at least and for <paramref name="warmupSeconds"/> before it is timed (<see cref="Measurement"/>): long enough for the runtime to replace
/// the first code of hot methods (tier 0, and the ReadyToRun code of System.Numerics.Tensors, 20x slower here) with
/// optimised code, so that the time is the op's steady state rather than its start-up.
/// </summary>
public sealed class OpsRunner(Backend backend, int minRepeats = 5, double minSeconds = 0.05, double warmupSeconds = 0.2)
{
    private readonly Measurement _measurement = new(WarmupSteps: 1, warmupSeconds, minRepeats, minSeconds);

    /// <summary>
    /// Refuses a Debug build at once; the ops are then checked and timed one by one as the results are read. With
    /// <paramref name="ops"/>, only the cases of those ops (<see cref="OpCase.Op"/>); none, or an op name no case has, throws.
    /// </summary>
    public IEnumerable<OpRecord> Run(Suite suite, IReadOnlyCollection<string>? ops = null)
    {
        Measurement.RefuseDebugBuild();
        var cases = WorkloadOpCases.For(suite.Workloads.Select(w => (w.Name, w.Model, w.Shape)), suite.Optimizer);
        if (ops is not null)
        {
            if (ops.Count == 0)
                throw new KernelLabException("--op: no op named");
            if (ops.FirstOrDefault(op => cases.All(c => c.Case.Op != op)) is { } unknown)
                throw new KernelLabException($"--op: no op case of the suite {suite.Source} is '{unknown}' (they are {string.Join(", ", cases.Select(c => c.Case.Op).Distinct())})");
            cases = [.. cases.Where(c => ops.Contains(c.Case.Op))];
        }
        return RunAll(cases);
    }

    private IEnumerable<OpRecord> RunAll(IReadOnlyList<WorkloadOpCase> cases)
    {
        using var recorder = new OpRecorder();
        foreach (var c in cases)
            yield return RunOne(c.Workload, c.Case, recorder.RunsPerStep(c.Case, c.Calls));
    }

    private OpRecord RunOne(string workload, OpCase opCase, double runsPerStep)
    {
        var record = new OpRecord(workload, opCase.Op, opCase.Shape, Passed: false, Repeats: 0, Flop: opCase.Flop, Bytes: opCase.Bytes(backend.Precision),
            RunsPerStep: runsPerStep);
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
        var times = _measurement.Run(backend, () => opCase.Run(backend, buffers));
        return record with { Passed = true, MedianMs = times.MedianMs, MinMs = times.MinMs, Repeats = times.Count };
    }
}
