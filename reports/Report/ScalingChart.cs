using ScottPlot;

namespace KernelLab.Reports;

/// <summary>One timed run of a workload that a suite swept: its backend, batch and thread count, and its throughput.</summary>
public readonly record struct ScalingPoint(string Workload, string Backend, int Batch, int? Threads, double SamplesPerSecond);

/// <summary>
/// Throughput against the swept value (a suite's <c>batch</c> or <c>threads</c> list), one panel per swept workload and one
/// line per backend (and thread count, where a workload sweeps both), so that a reader sees how cost grows with the work.
/// </summary>
public static class ScalingChart
{
    private static readonly LinePattern[] Patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];

    /// <summary>The panels; none where no workload has runs at more than one batch or thread count.</summary>
    public static IReadOnlyList<Plot> Draw(IReadOnlyList<ScalingPoint> points, BackendColors colors)
    {
        var panels = new List<Plot>();
        foreach (var workload in points.GroupBy(p => p.Workload))
        {
            bool byBatch = workload.Select(p => p.Batch).Distinct().Count() > 1;
            if (!byBatch && workload.Select(p => p.Threads).Distinct().Count() < 2)
                continue;
            int X(ScalingPoint p) => byBatch ? p.Batch : p.Threads ?? 0;
            var scale = ValueScale.For(workload.Select(p => p.SamplesPerSecond));
            var plot = Chart.Panel($"{workload.Key}: throughput against {(byBatch ? "batch size" : "host threads")}",
                byBatch ? "batch size, samples per step (log2 scale)" : "host threads (log2 scale)", scale.Label("samples/s"));
            var threadCounts = workload.Select(p => p.Threads).Distinct().Order().ToList();
            foreach (var line in workload.Where(p => X(p) > 0).GroupBy(p => (p.Backend, Threads: byBatch ? p.Threads : null)))
            {
                var sorted = line.OrderBy(X).ToList();
                var scatter = plot.Add.ScatterLine(sorted.Select(p => Math.Log2(X(p))).ToArray(), sorted.Select(p => scale.Map(p.SamplesPerSecond)).ToArray());
                scatter.Color = colors[line.Key.Backend];
                scatter.LineWidth = 2;
                scatter.MarkerShape = MarkerShape.FilledCircle;
                scatter.MarkerSize = 7;
                scatter.LinePattern = Patterns[Math.Max(0, threadCounts.IndexOf(line.Key.Threads)) % Patterns.Length];
                scatter.LegendText = line.Key.Threads is { } t ? $"{line.Key.Backend}, {t} threads" : line.Key.Backend;
            }
            var values = workload.Select(X).Where(x => x > 0).Distinct().Order().ToList();
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                [.. values.Select(v => Math.Log2(v))], [.. values.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
            scale.Apply(plot.Axes.Left);
            var ys = workload.Select(p => scale.Map(p.SamplesPerSecond)).ToList();
            plot.Axes.SetLimits(Math.Log2(values[0]) - 0.3, Math.Log2(values[^1]) + 0.3,
                scale.Log ? Math.Floor(ys.Min()) : 0, scale.Log ? Math.Ceiling(ys.Max() + 0.1) : ys.Max() * 1.15);
            plot.ShowLegend(Edge.Right);
            panels.Add(plot);
        }
        return panels;
    }
}
