using ScottPlot;

namespace KernelLab.Reports;

/// <summary>One bar: its value and, where there is one, its spread (p10 to p90), drawn as a whisker.</summary>
public readonly record struct BarValue(double Value, double? Low = null, double? High = null);

/// <summary>
/// Grouped bars, as the step-time, speedup and peak-share charts draw them: one group per category (a workload), one bar
/// per series (a backend) in its colour, whiskers where a bar has a spread, and the value over each bar where there is room.
/// </summary>
public static class GroupedBars
{
    public static Plot Draw(string title, string yLabel, string unit, IReadOnlyList<string> categories, IReadOnlyList<string> series,
        IReadOnlyDictionary<(string Category, string Series), BarValue> values, BackendColors colors, double? referenceLine = null)
    {
        var numbers = values.Values.SelectMany(b => new[] { b.Value, b.Low ?? b.Value, b.High ?? b.Value })
            .Concat(referenceLine is { } line ? [line] : []).Where(v => v > 0 && double.IsFinite(v)).ToList();
        var scale = ValueScale.For(numbers);
        var plot = Chart.Panel(title, "", scale.Label(yLabel));
        double bottom = scale.Base(numbers.Min());
        double width = 0.8 / series.Count;
        bool room = Chart.Width * 0.8 / categories.Count * width >= 36; // pixels per bar, for its value above it

        for (int s = 0; s < series.Count; s++)
        {
            var bars = new List<Bar>();
            List<double> xs = [], ys = [], below = [], above = [];
            for (int c = 0; c < categories.Count; c++)
            {
                if (!values.TryGetValue((categories[c], series[s]), out var v) || !(v.Value > 0) || !double.IsFinite(v.Value))
                    continue;
                double x = c - 0.4 + (s + 0.5) * width, y = scale.Map(v.Value);
                bars.Add(new Bar { Position = x, Value = y, ValueBase = bottom, Size = width * 0.9, FillColor = colors[series[s]], LineWidth = 0 });
                if (v.Low is > 0 and var low && v.High is { } high && high > low)
                {
                    xs.Add(x);
                    ys.Add(y);
                    below.Add(y - scale.Map(low));
                    above.Add(scale.Map(high) - y);
                }
                if (room)
                {
                    var label = plot.Add.Text(Chart.Number(v.Value) + unit, x, scale.Map(Math.Max(v.Value, v.High ?? v.Value)));
                    label.Alignment = Alignment.LowerCenter;
                    label.LabelFontSize = 10;
                    label.OffsetY = -3;
                }
            }
            if (bars.Count == 0)
                continue;
            plot.Add.Bars(bars).LegendText = series[s];
            if (xs.Count > 0)
                plot.Add.Plottable(new ScottPlot.Plottables.ErrorBar(xs, ys, null, null, above, below) { LineColor = Colors.Black.WithOpacity(0.8), CapSize = 5 });
        }
        if (referenceLine is { } reference)
            plot.Add.HorizontalLine(scale.Map(reference), 1.5f, Colors.DarkRed, LinePattern.Dashed);

        // A category's name on two lines where it carries a swept value ("mlp-batch\nbatch=16").
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. Enumerable.Range(0, categories.Count).Select(c => (double)c)], [.. categories.Select(c => c.Replace(' ', '\n'))]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        scale.Apply(plot.Axes.Left, unit);
        double top = scale.Log ? Math.Ceiling(Math.Log10(numbers.Max() * 1.6)) : numbers.Max() * 1.18;
        plot.Axes.SetLimits(-0.5, categories.Count - 0.5, bottom - 0.005 * (top - bottom), top); // a hair below the base, so that its tick keeps its label
        plot.ShowLegend(Edge.Right);
        return plot;
    }
}
