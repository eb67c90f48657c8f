using KernelLab.Results;

namespace KernelLab.Suites;

/// <summary>One workload on one backend in two result files (<see cref="Workload"/>: its name, with the batch or thread count where its suite sweeps them): the ratio of median step times with its bootstrap interval.</summary>
public sealed record ComparisonRow(string Workload, string Backend, double BaseMedianMs, double NewMedianMs, double Ratio, double Low, double High)
{
    /// <summary>The whole interval is above 1 (slower) or below 1 (faster): a change beyond the step-to-step noise.</summary>
    public bool BeyondNoise => Low > 1 || High < 1;

    /// <summary>Slower by more than <paramref name="percent"/>, beyond noise.</summary>
    public bool IsRegression(double percent) => Low > 1 && Ratio > 1 + percent / 100;

    public string Verdict => !BeyondNoise ? "within noise" : Ratio > 1 ? "slower" : "faster";
}

/// <summary><c>kernellab compare</c>: pairs every timed run of BASE with NEW's run of the same workload and backend (and batch and thread count, where a suite sweeps them).</summary>
public static class Comparison
{
    public static IReadOnlyList<ComparisonRow> Compare(ResultsDocument baseline, ResultsDocument candidate, ulong seed = 1)
    {
        var rows = new List<ComparisonRow>();
        var label = RunRecord.Labels(baseline.Runs);
        foreach (var b in baseline.Runs.Where(r => r.Throughput is not null))
        {
            var n = candidate.Runs.LastOrDefault(r => r.IsSameRunAs(b) && r.Throughput is not null);
            if (n is null)
                continue;
            var bs = Samples(b.Throughput!);
            var ns = Samples(n.Throughput!);
            var (ratio, low, high) = Statistics.MedianRatio(bs, ns, seed: seed);
            // Files without per-step samples (the spec's minimum) compare their medians, with no interval.
            if (b.Throughput!.SamplesMs is not { Count: > 0 } || n.Throughput!.SamplesMs is not { Count: > 0 })
                (ratio, low, high) = (n.Throughput!.StepMsMedian / b.Throughput.StepMsMedian, 0, double.PositiveInfinity);
            rows.Add(new ComparisonRow(label(b), b.Backend, b.Throughput.StepMsMedian, n.Throughput!.StepMsMedian, ratio, low, high));
        }
        return rows;
    }

    private static IReadOnlyList<double> Samples(Throughput t) => t.SamplesMs is { Count: > 0 } s ? s : [t.StepMsMedian];
}
