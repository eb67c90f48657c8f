using System.Globalization;
using KernelLab.Backends;
using KernelLab.Suites;
using ScottPlot;
using SkiaSharp;

namespace KernelLab.Reports;

/// <summary>
/// One chart of a report, drawn by ScottPlot: its file name (<see cref="Name"/>.svg and .png, so that scripts find it), title,
/// caption and one or more panels, laid out in rows of <see cref="Columns"/>. The one place a chart becomes SVG and PNG.
/// </summary>
public sealed class Chart
{
    public Chart(string name, string title, string caption, IReadOnlyList<Plot> panels, int columns = 1)
    {
        Name = name;
        Title = title;
        Caption = caption;
        Panels = panels;
        Columns = columns;
    }

    public string Name { get; }

    public string Title { get; }

    public string Caption { get; }

    public IReadOnlyList<Plot> Panels { get; }

    public int Columns { get; }

    public const int Width = 960;

    private int Rows => (Panels.Count + Columns - 1) / Columns;

    public int Height => Rows == 1 ? 460 : 380 * Rows;

    public string SvgFile => Name + ".svg";

    public string PngFile => Name + ".png";

    public string ToSvg()
    {
        using var stream = new MemoryStream();
        using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, Width, Height), stream))
            Render(canvas);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    public byte[] ToPng()
    {
        using var surface = SKSurface.Create(new SKImageInfo(Width, Height));
        Render(surface.Canvas);
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private void Render(SKCanvas canvas)
    {
        canvas.Clear(SKColors.White);
        var figure = new Multiplot(Panels[0]) { Layout = new ScottPlot.MultiplotLayouts.Grid(Rows, Columns) };
        foreach (var panel in Panels.Skip(1))
            figure.AddPlot(panel);
        figure.Render(canvas, new PixelRect(new PixelSize(Width, Height)));
    }

    /// <summary>A panel with the report's font, a title and axis labels (with units), as every chart has.</summary>
    public static Plot Panel(string title, string xLabel, string yLabel)
    {
        ChartFont.Use();
        var plot = new Plot();
        plot.Title(title, size: 15);
        plot.XLabel(xLabel, size: 13);
        plot.YLabel(yLabel, size: 13);
        plot.Grid.MajorLineColor = Colors.Black.WithOpacity(0.12);
        plot.Grid.MinorLineColor = Colors.Black.WithOpacity(0.05);
        plot.Grid.MinorLineWidth = 1;
        return plot;
    }

    /// <summary>Numbers as the charts and tables write them: three significant figures, thousands separated.</summary>
    public static string Number(double v)
    {
        double a = Math.Abs(v);
        return a >= 1000 ? v.ToString("N0", CultureInfo.InvariantCulture)
            : a >= 100 ? v.ToString("F0", CultureInfo.InvariantCulture)
            : a >= 10 ? v.ToString("F1", CultureInfo.InvariantCulture)
            : a >= 1 ? v.ToString("F2", CultureInfo.InvariantCulture)
            : a == 0 ? "0"
            : v.ToString("G2", CultureInfo.InvariantCulture);
    }
}

/// <summary>The same colour for a backend on every chart of a report: its place in the report's list of backends.</summary>
public sealed class BackendColors(IReadOnlyList<string> backends)
{
    private static readonly ScottPlot.Palettes.Category10 Palette = new();

    public Color this[string backend] => Palette.GetColor(Math.Max(0, IndexOf(backend)));

    private int IndexOf(string backend)
    {
        for (int i = 0; i < backends.Count; i++)
            if (backends[i] == backend)
                return i;
        return -1;
    }
}

/// <summary>
/// A value axis: linear from 0, or logarithmic where the values span more than 30x, as backends' times often do. On a
/// log axis a value is drawn at its log10 (ScottPlot's axes are linear) and the ticks are labelled with the values.
/// </summary>
public sealed record ValueScale(bool Log)
{
    public static ValueScale For(IEnumerable<double> values)
    {
        var positive = values.Where(v => v > 0 && double.IsFinite(v)).ToList();
        return new ValueScale(positive.Count > 0 && positive.Max() / positive.Min() > 30);
    }

    public double Map(double value) => Log ? Math.Log10(value) : value;

    /// <summary>Where bars start: 0, or the power of ten below the smallest value (a decade lower where that value is one, so that its bar shows).</summary>
    public double Base(double smallest) => Log ? Math.Floor(Math.Log10(smallest * 0.7)) : 0;

    public string Label(string label) => Log ? label + " (log scale)" : label;

    /// <summary>Ticks at powers of ten with minor ticks between them (log), or ScottPlot's own (linear); <paramref name="unit"/> after every number.</summary>
    public void Apply(IAxis axis, string unit = "") => axis.TickGenerator = Log
        ? new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true,
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            LabelFormatter = y => Math.Pow(10, y).ToString(y >= 0 ? "N0" : "0.##########", CultureInfo.InvariantCulture) + unit,
        }
        : new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = y => Chart.Number(y) + unit };
}

/// <summary>
/// The charts' font: DejaVu Sans (Debian's fonts-dejavu-core) as ScottPlot's default, so that text renders the same on every
/// machine. Without it ScottPlot would fall back to whatever the machine has, or draw boxes; instead the report stops with one line.
/// </summary>
public static class ChartFont
{
    public const string Family = "DejaVu Sans";

    public const string Package = "fonts-dejavu-core";

    public const string RegularPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    public const string BoldPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

    // Lazy keeps the exception too: every report on a machine without the font says the same line.
    private static readonly Lazy<bool> Installed = new(Install);

    public static void Use() => _ = Installed.Value;

    private static bool Install()
    {
        string regular = Resolve(RegularPath, () => FontConfig($"{Family}:style=Book"));
        string bold = File.Exists(BoldPath) ? BoldPath : FontConfig($"{Family}:style=Bold") is { } b && IsDejaVuSans(b) ? b : regular;
        Fonts.AddFontFile(Family, regular, bold: false, italic: false);
        Fonts.AddFontFile(Family, bold, bold: true, italic: false);
        Fonts.Default = Family;
        return true;
    }

    /// <summary>The font file: Debian's path, else the one fontconfig names (when it is DejaVu Sans, not a substitute), else the one-line error.</summary>
    public static string Resolve(string path, Func<string?> fontConfig) =>
        File.Exists(path) ? path
        : fontConfig() is { } file && IsDejaVuSans(file) && File.Exists(file) ? file
        : throw new KernelLabException($"font {Family} not found ({path}, nor through fontconfig): the charts need it; install Debian's {Package} (apt-get install {Package})");

    private static bool IsDejaVuSans(string file) => Path.GetFileName(file).StartsWith("DejaVuSans", StringComparison.Ordinal)
        && !Path.GetFileName(file).StartsWith("DejaVuSansMono", StringComparison.Ordinal);

    /// <summary>fontconfig's file for a pattern, or null where fc-match is not installed or fails.</summary>
    private static string? FontConfig(string pattern) =>
        MachineProbe.RunTool("fc-match", $"-f %{{file}} \"{pattern}\"")?.Trim() is { Length: > 0 } file ? file : null;
}
