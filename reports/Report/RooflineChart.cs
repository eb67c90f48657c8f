using KernelLab.Results;
using ScottPlot;

namespace KernelLab.Reports;

/// <summary>One op on a roofline: its backend and op, its arithmetic intensity (counted FLOP per byte it must move) and the GFLOP/s it reached.</summary>
public readonly record struct RooflinePoint(string Backend, string Op, double Intensity, double Gflops)
{
    /// <summary>The point of an op that passed its check and was timed, with FLOP and bytes counted; null for the rest (fill does no arithmetic).</summary>
    public static RooflinePoint? From(string backend, OpRecord op) =>
        op is { Passed: true, Flop: > 0 and var flop, Bytes: > 0 and var bytes, MedianMs: > 0 and var ms }
            ? new RooflinePoint(backend, op.Op, flop / bytes, flop / (ms / 1e3) / 1e9)
            : null;
}

/// <summary>A machine's ceilings: its measured float32 FMA peak, and its copy bandwidth, which caps an op at intensity x bandwidth.</summary>
public readonly record struct Roof(string Machine, double PeakGflops, double CopyGbps)
{
    /// <summary>The intensity where the bandwidth's slope meets the peak: below it an op is bound by memory.</summary>
    public double Ridge => PeakGflops / CopyGbps;
}

/// <summary>The roofline of <c>kernellab ops</c> results: every op's point, coloured by backend and shaped by op, under each machine's ceilings.</summary>
public static class RooflineChart
{
    private static readonly MarkerShape[] Shapes =
    [
        MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond,
        MarkerShape.FilledTriangleDown, MarkerShape.OpenCircle, MarkerShape.OpenSquare, MarkerShape.OpenTriangleUp,
        MarkerShape.OpenDiamond, MarkerShape.OpenTriangleDown, MarkerShape.Eks, MarkerShape.Cross, MarkerShape.Asterisk,
        MarkerShape.TriUp, MarkerShape.TriDown, MarkerShape.HashTag,
    ];

    public static Plot Draw(IReadOnlyList<RooflinePoint> points, IReadOnlyList<Roof> roofs, BackendColors colors)
    {
        var log = new ValueScale(Log: true);
        var plot = Chart.Panel("Roofline: each op against the measured peaks", log.Label("arithmetic intensity, FLOP per byte moved"), log.Label("GFLOP/s"));
        var intensities = points.Select(p => p.Intensity).Concat(roofs.Select(r => r.Ridge)).ToList();
        double left = Math.Floor(Math.Log10(intensities.Min())), right = Math.Ceiling(Math.Log10(intensities.Max()));
        var gflops = points.Select(p => p.Gflops).Concat(roofs.Select(r => r.PeakGflops)).Concat(roofs.Select(r => Math.Pow(10, left) * r.CopyGbps)).ToList();

        foreach (var roof in roofs)
        {
            double ridge = Math.Log10(roof.Ridge), peak = Math.Log10(roof.PeakGflops);
            var line = plot.Add.ScatterLine(new[] { left, ridge, right }, new[] { left + Math.Log10(roof.CopyGbps), peak, peak });
            line.Color = Colors.DimGray;
            line.LineWidth = 2;
            line.MarkerSize = 0;
            Label(plot, $"FMA peak {Chart.Number(roof.PeakGflops)} GFLOP/s ({roof.Machine})", right, peak, Alignment.LowerRight);
            Label(plot, $"copy {Chart.Number(roof.CopyGbps)} GB/s", left, left + Math.Log10(roof.CopyGbps), Alignment.LowerLeft);
        }

        // An op's in-place variant ("Relu in place") shares its shape.
        var ops = points.Select(p => OpName(p.Op)).Distinct().ToList();
        foreach (var group in points.GroupBy(p => (p.Backend, Op: OpName(p.Op))))
        {
            var dots = plot.Add.ScatterPoints(group.Select(p => Math.Log10(p.Intensity)).ToArray(), group.Select(p => Math.Log10(p.Gflops)).ToArray());
            dots.Color = colors[group.Key.Backend];
            dots.MarkerShape = Shapes[ops.IndexOf(group.Key.Op) % Shapes.Length];
            dots.MarkerSize = 8;
        }
        plot.Legend.ManualItems.AddRange(points.Select(p => p.Backend).Distinct().Select(b =>
            new LegendItem { LabelText = b, MarkerShape = MarkerShape.FilledSquare, MarkerFillColor = colors[b], MarkerLineColor = colors[b], MarkerSize = 10 }));
        plot.Legend.ManualItems.AddRange(ops.Select((op, i) =>
            new LegendItem { LabelText = op, MarkerShape = Shapes[i % Shapes.Length], MarkerFillColor = Colors.DimGray, MarkerLineColor = Colors.DimGray, MarkerSize = 8 }));

        log.Apply(plot.Axes.Bottom);
        log.Apply(plot.Axes.Left);
        plot.Axes.SetLimits(left, right, Math.Floor(Math.Log10(gflops.Min())), Math.Ceiling(Math.Log10(gflops.Max() * 1.5)));
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    private static string OpName(string op) => op.EndsWith(" in place", StringComparison.Ordinal) ? op[..^" in place".Length] : op;

    private static void Label(Plot plot, string text, double x, double y, Alignment alignment)
    {
        var label = plot.Add.Text(text, x, y);
        label.Alignment = alignment;
        label.LabelFontSize = 11;
        label.LabelFontColor = Colors.DimGray;
        label.OffsetY = -3;
    }
}
