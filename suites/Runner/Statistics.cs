using KernelLab.Models;

namespace KernelLab.Suites;

/// <summary>Order statistics of step times, and the seeded bootstrap that <c>compare</c> uses.</summary>
public static class Statistics
{
    /// <summary>The q-quantile (0..1) by linear interpolation between order statistics (numpy's default).</summary>
    public static double Quantile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0)
            throw new ArgumentException("no values", nameof(values));
        var sorted = values.Order().ToArray();
        return SortedQuantile(sorted, q);
    }

    public static double Median(IReadOnlyList<double> values) => Quantile(values, 0.5);

    private static double SortedQuantile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
    }

    /// <summary>
    /// The ratio of medians median(new) / median(base), and its confidence interval by the percentile bootstrap:
    /// both sample sets are resampled with replacement <paramref name="resamples"/> times from a seeded generator,
    /// so the same samples always give the same interval.
    /// </summary>
    public static (double Ratio, double Low, double High) MedianRatio(
        IReadOnlyList<double> baseline, IReadOnlyList<double> candidate, double confidence = 0.95, int resamples = 2000, ulong seed = 1)
    {
        if (baseline.Count == 0 || candidate.Count == 0)
            throw new ArgumentException("both sample sets need at least one sample");
        double ratio = Median(candidate) / Median(baseline);
        var random = new SeededRandom(seed);
        var ratios = new double[resamples];
        var b = new double[baseline.Count];
        var c = new double[candidate.Count];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < b.Length; i++)
                b[i] = baseline[random.NextInt(b.Length)];
            for (int i = 0; i < c.Length; i++)
                c[i] = candidate[random.NextInt(c.Length)];
            Array.Sort(b);
            Array.Sort(c);
            ratios[r] = SortedQuantile(c, 0.5) / SortedQuantile(b, 0.5);
        }
        Array.Sort(ratios);
        double tail = (1 - confidence) / 2;
        return (ratio, SortedQuantile(ratios, tail), SortedQuantile(ratios, 1 - tail));
    }
}
