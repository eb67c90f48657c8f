using System.Globalization;

namespace KernelLab.Backends;

/// <summary>The outcome of comparing one tensor with its reference (the rule of MODELS.md).</summary>
public sealed record ComparisonResult(
    string Name,
    double MaxError,
    long WorstIndex,
    double Tolerance,
    IReadOnlyList<string> FirstMismatches)
{
    /// <summary>False when the error exceeds the tolerance or either side holds a NaN or an infinity.</summary>
    public bool Passed => MaxError <= Tolerance;

    public override string ToString() => Passed
        ? $"{Name}: max error {Fmt(MaxError)} <= {Fmt(Tolerance)}"
        : $"{Name}: max error {Fmt(MaxError)} > {Fmt(Tolerance)} at [{WorstIndex}]; first mismatches: {string.Join(", ", FirstMismatches)}";

    internal static string Fmt(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
}

/// <summary>
/// The one comparison used by the tests, the CLI and the suites. Per tensor:
/// err = max_i |a_i - r_i| / max(max_i |r_i|, 1e-12); a NaN or an infinity anywhere never passes. A caller that compares
/// a tensor which is zero in exact arithmetic gives the scale instead (see models/Networks/Network.CompareGradients).
/// </summary>
public static class TensorComparison
{
    /// <summary>A float64 reference against PyTorch in float64.</summary>
    public const double Float64Tolerance = 1e-6;

    /// <summary>A float32 backend against the reference.</summary>
    public const double Float32Tolerance = 1e-4;

    private const int MismatchesShown = 5;

    /// <summary>The tolerance for results computed in <paramref name="precision"/>.</summary>
    public static double ToleranceFor(Precision precision) =>
        precision == Precision.Float64 ? Float64Tolerance : Float32Tolerance;

    /// <param name="scale">The denominator of the error; by default max(max_i |r_i|, 1e-12).</param>
    public static ComparisonResult Compare(string name, ReadOnlySpan<double> actual, ReadOnlySpan<double> reference, double tolerance, double? scale = null)
    {
        if (actual.Length != reference.Length)
            throw new ArgumentException($"{name}: {actual.Length} elements against a reference of {reference.Length}");

        double denominator = scale ?? Scale(reference);

        double maxError = 0;
        long worst = -1;
        var mismatches = new List<string>();
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], r = reference[i];
            double err = double.IsFinite(a) && double.IsFinite(r) ? Math.Abs(a - r) / denominator : double.PositiveInfinity;
            if (err > maxError || worst < 0)
            {
                maxError = Math.Max(maxError, err);
                worst = i;
            }
            if (err > tolerance && mismatches.Count < MismatchesShown)
                mismatches.Add($"[{i}] {ComparisonResult.Fmt(a)} vs {ComparisonResult.Fmt(r)}");
        }
        return new ComparisonResult(name, maxError, worst, tolerance, mismatches);
    }

    /// <summary>max(max_i |r_i|, 1e-12) over the finite values: the rule's denominator.</summary>
    public static double Scale(ReadOnlySpan<double> reference)
    {
        double scale = 1e-12;
        foreach (double r in reference)
            if (double.IsFinite(r))
                scale = Math.Max(scale, Math.Abs(r));
        return scale;
    }
}
