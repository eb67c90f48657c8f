using System.Globalization;
using System.Net;
using System.Text;

namespace KernelLab.Reports;

/// <summary>One bar: its value and, optionally, a spread drawn as a whisker (p10 to p90).</summary>
public readonly record struct Bar(double Value, double? Low = null, double? High = null);

/// <summary>
/// A grouped bar chart drawn as SVG: one group per category (workload), one bar per series (backend) in it,
/// a legend, axis ticks and labels. A log scale when values span more than 30x, since backends differ by orders of magnitude.
/// </summary>
public sealed class BarChart
{
    public required string Title { get; init; }

    public required string YLabel { get; init; }

    public required IReadOnlyList<string> Categories { get; init; }

    public required IReadOnlyList<string> Series { get; init; }

    /// <summary>Values by (category, series); a missing pair draws no bar.</summary>
    public required IReadOnlyDictionary<(string Category, string Series), Bar> Values { get; init; }

    /// <summary>A dashed horizontal line (speedup 1).</summary>
    public double? ReferenceLine { get; init; }

    /// <summary>After every number: "x", "%", or nothing.</summary>
    public string Unit { get; init; } = "";

    private string Format(double v) => Number(v) + Unit;

    /// <summary>Shown in the plot when there is nothing to draw.</summary>
    public string EmptyNote { get; init; } = "no data";

    public const int Width = 820;
    public const int Height = 400;
    private const int Left = 78, Right = 20, Top = 78, Bottom = 48;
    private const double PlotWidth = Width - Left - Right, PlotHeight = Height - Top - Bottom;

    public static readonly string[] Palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

    public string ToSvg()
    {
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" viewBox="0 0 {Width} {Height}" font-family="Helvetica, Arial, sans-serif" font-size="12">""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="{Width}" height="{Height}" fill="#ffffff"/>""").Append('\n');
        Text(svg, Width / 2.0, 22, Title, "middle", size: 16, weight: "bold");
        Legend(svg);

        var present = Values.Where(v => double.IsFinite(v.Value.Value) && v.Value.Value >= 0).ToList();
        var positives = Values.Values.SelectMany(b => new[] { b.Value, b.Low ?? b.Value, b.High ?? b.Value })
            .Concat(ReferenceLine is { } r ? [r] : []).Where(v => v > 0 && double.IsFinite(v)).ToList();
        var axis = positives.Count == 0 ? null : Axis.For(positives.Min(), positives.Max());

        // Y axis: grid, ticks, label.
        svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left}" y1="{Top}" x2="{Left}" y2="{Top + PlotHeight}" stroke="#333"/>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left}" y1="{Top + PlotHeight}" x2="{Left + PlotWidth}" y2="{Top + PlotHeight}" stroke="#333"/>""").Append('\n');
        double labelX = 16, labelY = Top + PlotHeight / 2;
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{labelX}" y="{labelY:F1}" text-anchor="middle" transform="rotate(-90 {labelX} {labelY:F1})" fill="#333">{Escape(YLabel)}</text>""").Append('\n');
        if (axis is null || present.Count == 0)
        {
            Text(svg, Left + PlotWidth / 2, Top + PlotHeight / 2, EmptyNote, "middle", fill: "#777");
        }
        else
        {
            foreach (double tick in axis.Ticks)
            {
                double y = Y(axis, tick);
                svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left}" y1="{y:F1}" x2="{Left + PlotWidth}" y2="{y:F1}" stroke="#e3e3e3"/>""").Append('\n');
                svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left - 4}" y1="{y:F1}" x2="{Left}" y2="{y:F1}" stroke="#333"/>""").Append('\n');
                Text(svg, Left - 7, y + 4, axis.Label(tick) + Unit, "end", size: 11);
            }
            if (axis.Log)
                Text(svg, Left + PlotWidth, Top - 8, "log scale", "end", size: 10, fill: "#777");
        }

        // Under the bars and their labels, so that a label on the line stays readable.
        if (ReferenceLine is { } line && axis is not null && present.Count > 0)
        {
            double y = Y(axis, line);
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left}" y1="{y:F1}" x2="{Left + PlotWidth}" y2="{y:F1}" stroke="#c00" stroke-dasharray="6 4"/>""").Append('\n');
        }
        // Groups and bars.
        double groupWidth = PlotWidth / Math.Max(1, Categories.Count);
        double barWidth = groupWidth * 0.8 / Math.Max(1, Series.Count);
        for (int c = 0; c < Categories.Count; c++)
        {
            double groupLeft = Left + c * groupWidth + groupWidth * 0.1;
            Text(svg, Left + (c + 0.5) * groupWidth, Top + PlotHeight + 20, Categories[c], "middle", size: 13);
            for (int s = 0; s < Series.Count; s++)
            {
                double x = groupLeft + s * barWidth;
                if (!Values.TryGetValue((Categories[c], Series[s]), out var bar) || axis is null)
                {
                    Text(svg, x + barWidth / 2, Top + PlotHeight - 4, "n/a", "middle", size: 9, fill: "#999");
                    continue;
                }
                double top = Y(axis, Math.Max(bar.Value, axis.Min));
                double bottom = Top + PlotHeight;
                svg.Append(CultureInfo.InvariantCulture,
                    $"""<rect class="bar" data-category="{Escape(Categories[c])}" data-series="{Escape(Series[s])}" data-value="{bar.Value.ToString("R", CultureInfo.InvariantCulture)}" x="{x + 1:F1}" y="{top:F1}" width="{Math.Max(1, barWidth - 2):F1}" height="{Math.Max(0, bottom - top):F1}" fill="{Palette[s % Palette.Length]}"><title>{Escape($"{Categories[c]}, {Series[s]}: {Format(bar.Value)}")}</title></rect>""").Append('\n');
                double labelTop = top;
                if (bar.Low is { } low && bar.High is { } high && high > low)
                {
                    double cx = x + barWidth / 2, y1 = Y(axis, Math.Max(low, axis.Min)), y2 = Y(axis, high);
                    svg.Append(CultureInfo.InvariantCulture, $"""<path d="M{cx:F1} {y1:F1}V{y2:F1}M{cx - 4:F1} {y1:F1}h8M{cx - 4:F1} {y2:F1}h8" stroke="#222" fill="none"/>""").Append('\n');
                    labelTop = Math.Min(labelTop, y2);
                }
                if (barWidth >= 30)
                    Text(svg, x + barWidth / 2, labelTop - 5, Format(bar.Value), "middle", size: 10, fill: "#222", halo: true);
            }
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private void Legend(StringBuilder svg)
    {
        // One row of swatches under the title, centred; each entry as wide as its name.
        var widths = Series.Select(s => 22 + 7.2 * s.Length + 18).ToList();
        double x = (Width - widths.Sum()) / 2;
        for (int s = 0; s < Series.Count; s++)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{x:F1}" y="38" width="14" height="14" fill="{Palette[s % Palette.Length]}"/>""").Append('\n');
            Text(svg, x + 20, 50, Series[s], "start", size: 12);
            x += widths[s];
        }
    }

    private static double Y(Axis axis, double value) => Top + PlotHeight * (1 - axis.Fraction(value));

    // A halo (white outline under the glyphs) keeps a label readable over grid and reference lines.
    private static void Text(StringBuilder svg, double x, double y, string text, string anchor, int size = 12, string weight = "normal", string fill = "#333", bool halo = false) =>
        svg.Append(CultureInfo.InvariantCulture,
            $"""<text x="{x:F1}" y="{y:F1}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" fill="{fill}"{(halo ? " stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\"" : "")}>{Escape(text)}</text>""").Append('\n');

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    public static string Number(double v)
    {
        double a = Math.Abs(v);
        string s = a >= 1000 ? v.ToString("N0", CultureInfo.InvariantCulture)
            : a >= 100 ? v.ToString("F0", CultureInfo.InvariantCulture)
            : a >= 10 ? v.ToString("F1", CultureInfo.InvariantCulture)
            : a >= 1 ? v.ToString("F2", CultureInfo.InvariantCulture)
            : a == 0 ? "0"
            : v.ToString("G2", CultureInfo.InvariantCulture);
        return s;
    }

    /// <summary>The value axis: from 0 (linear) or a power of ten below the data (log) to a round number above it.</summary>
    private sealed record Axis(bool Log, double Min, double Max, IReadOnlyList<double> Ticks, int Decimals = 0)
    {
        /// <summary>Every tick with the same number of decimals (log ticks as plain numbers).</summary>
        public string Label(double tick) => Log
            ? tick.ToString(tick >= 1 ? "N0" : "0.###", CultureInfo.InvariantCulture)
            : tick.ToString("N" + Decimals, CultureInfo.InvariantCulture);

        public static Axis For(double min, double max)
        {
            if (max / min > 30)
            {
                double lo = Math.Pow(10, Math.Floor(Math.Log10(min)));
                double hi = Math.Pow(10, Math.Ceiling(Math.Log10(max * 1.15)));
                var ticks = new List<double>();
                for (double t = lo; t <= hi * 1.0001; t *= 10)
                    ticks.Add(t);
                return new Axis(true, lo, hi, ticks);
            }
            double step = NiceStep(max * 1.15 / 5);
            double top = Math.Ceiling(max * 1.15 / step) * step;
            int decimals = Enumerable.Range(0, 8).First(d => Math.Abs(step * Math.Pow(10, d) - Math.Round(step * Math.Pow(10, d))) < 1e-6 || d == 7);
            return new Axis(false, 0, top, Enumerable.Range(0, (int)Math.Round(top / step) + 1).Select(i => i * step).ToList(), decimals);
        }

        public double Fraction(double value) => Log
            ? (Math.Log10(value) - Math.Log10(Min)) / (Math.Log10(Max) - Math.Log10(Min))
            : value / Max;

        private static double NiceStep(double raw)
        {
            double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
            double f = raw / magnitude;
            return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * magnitude;
        }
    }
}
