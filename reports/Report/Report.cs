using System.Globalization;
using System.Net;
using System.Text;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Results;
using KernelLab.Suites;

namespace KernelLab.Reports;

/// <summary>
/// A report of one or more result files: report.md (with the charts as SVG files beside it, so it renders on a
/// code-hosting site) and report.html (one file: charts inline, styles inline, nothing fetched).
/// </summary>
public sealed class Report
{
    private readonly IReadOnlyList<(string Source, ResultsDocument Document)> _inputs;
    private readonly List<RunRecord> _runs;

    public Report(IReadOnlyList<(string Source, ResultsDocument Document)> inputs, string? baseline = null)
    {
        if (inputs.Count == 0)
            throw new ArgumentException("no results", nameof(inputs));
        _inputs = inputs;
        _runs = inputs.SelectMany(i => i.Document.Runs.Select(r => WithPeakShare(r, i.Document.Machine, inputs))).ToList();
        Workloads = _runs.Select(r => r.Workload).Distinct().ToList();
        Backends = _runs.Select(r => r.Backend).Distinct().ToList();
        var measured = _runs.Where(r => r.Throughput is not null).Select(r => r.Backend).Distinct().ToList();
        if (baseline is not null && !measured.Contains(baseline))
            throw new KernelLabException($"--baseline {baseline}: no timed run of that backend in the results (timed: {(measured.Count == 0 ? "none" : string.Join(", ", measured))})");
        Baseline = baseline ?? (measured.Contains(SuiteRunner.ReferenceBackend) ? SuiteRunner.ReferenceBackend : measured.FirstOrDefault());
        TimedBackends = measured;
    }

    public IReadOnlyList<string> Workloads { get; }

    /// <summary>
    /// A CPU run without a share of peak (an outside baseline that does not probe the machine) takes it from the
    /// peak that a KernelLab run measured on the same CPU model and core count.
    /// </summary>
    private static RunRecord WithPeakShare(RunRecord run, MachineInfo machine, IReadOnlyList<(string Source, ResultsDocument Document)> inputs)
    {
        if (run.Throughput is not { PeakShare: null } t || run.DeviceKind != "cpu")
            return run;
        double? peak = machine.PeakGflops ?? inputs.Select(i => i.Document.Machine)
            .FirstOrDefault(m => m.PeakGflops is not null && m.Cpu == machine.Cpu && m.Cores == machine.Cores)?.PeakGflops;
        return peak is > 0 ? run with { Throughput = t with { PeakShare = t.Gflops / peak } } : run;
    }

    public IReadOnlyList<string> Backends { get; }

    /// <summary>Backends with at least one timed run: the charts' series.</summary>
    public IReadOnlyList<string> TimedBackends { get; }

    public string? Baseline { get; }

    public const string StepTimeChart = "step-time.svg", SpeedupChart = "speedup.svg", PeakShareChart = "peak-share.svg";

    /// <summary>Writes report.md, report.html and the charts into <paramref name="directory"/>, all or none.</summary>
    public IReadOnlyList<string> WriteTo(string directory)
    {
        OutputFolder.Create(directory);
        var charts = Charts();
        var files = charts.Select(c => (Path.Combine(directory, c.File), c.Chart.ToSvg())).ToList();
        files.Add((Path.Combine(directory, "report.md"), Markdown()));
        files.Add((Path.Combine(directory, "report.html"), Html()));
        AtomicFile.WriteAll(files.Select(f => (f.Item1, (Action<Stream>)(s => s.Write(Encoding.UTF8.GetBytes(f.Item2))))).ToList());
        return files.Select(f => f.Item1).ToList();
    }

    public IReadOnlyList<(string File, string Caption, BarChart Chart)> Charts() =>
    [
        (StepTimeChart, "Median step time (forward, backward, optimizer); whiskers p10 to p90. Lower is better.", StepTime()),
        (SpeedupChart, $"Speedup over {Baseline ?? "the baseline"}: its median step time over each backend's. Higher is better.", Speedup()),
        (PeakShareChart, "Counted GFLOP/s as a share of the machine's measured float32 FMA peak (CPU backends).", PeakShare()),
    ];

    private IEnumerable<RunRecord> Timed => _runs.Where(r => r.Throughput is not null);

    public BarChart StepTime() => new()
    {
        Title = "Step time per workload",
        YLabel = "ms per training step",
        Categories = Workloads,
        Series = TimedBackends,
        Values = Timed.GroupBy(r => (r.Workload, r.Backend)).ToDictionary(g => g.Key, g =>
        {
            var t = g.Last().Throughput!;
            return new Bar(t.StepMsMedian, t.StepMsP10, t.StepMsP90);
        }),
    };

    public BarChart Speedup()
    {
        var values = new Dictionary<(string, string), Bar>();
        foreach (var workload in Workloads)
        {
            var baseline = Timed.LastOrDefault(r => r.Workload == workload && r.Backend == Baseline);
            if (baseline is null)
                continue;
            foreach (var run in Timed.Where(r => r.Workload == workload))
                values[(workload, run.Backend)] = new Bar(baseline.Throughput!.StepMsMedian / run.Throughput!.StepMsMedian);
        }
        return new BarChart
        {
            Title = $"Speedup over {Baseline ?? "baseline"}",
            YLabel = $"x faster than {Baseline ?? "baseline"}",
            Categories = Workloads,
            Series = TimedBackends,
            Values = values,
            ReferenceLine = 1,
            Unit = "x",
        };
    }

    public BarChart PeakShare() => new()
    {
        Title = "Share of the measured peak",
        YLabel = "% of peak FMA GFLOP/s",
        Categories = Workloads,
        Series = TimedBackends,
        Values = Timed.Where(r => r.Throughput!.PeakShare is not null).GroupBy(r => (r.Workload, r.Backend))
            .ToDictionary(g => g.Key, g => new Bar(100 * g.Last().Throughput!.PeakShare!.Value)),
        Unit = "%",
        EmptyNote = "no CPU backend with a measured peak in these results",
    };

    // ---------------------------------------------------------------- tables, shared by Markdown and HTML

    private sealed record TableData(string[] Header, List<string[]> Rows, string[]? Classes = null);

    /// <summary>One row per kind of machine of each results file (a merged file's shards ran on several): its hosts, then what they share.</summary>
    private TableData MachineTable()
    {
        var rows = new List<string[]>();
        foreach (var (source, doc) in _inputs)
        {
            foreach (var same in doc.Machines.GroupBy(m => string.Join('\n', Hardware(m))))
            {
                var m = same.First();
                var hosts = same.Select(x => x.Host).OfType<string>().Distinct().ToList();
                rows.Add([
                    source, doc.Suite, doc.Started, hosts.Count == 0 ? "-" : string.Join(", ", hosts), .. Hardware(m),
                    Range(same.Select(x => x.PeakGflops)), Range(same.Select(x => x.MemoryGbps)),
                ]);
            }
        }
        return new TableData(["results", "suite", "started", "hosts", "OS", "CPU", "cores", "SIMD", "GPUs", "OpenCL devices", ".NET", "peak GFLOP/s", "copy GB/s"], rows);
    }

    private static string[] Hardware(MachineInfo m) =>
    [
        m.Os, m.Cpu, m.Cores.ToString(CultureInfo.InvariantCulture), m.Simd,
        m.Gpus.Count == 0 ? "none" : string.Join("; ", m.Gpus.Select(g => g.Driver is null ? g.Name : $"{g.Name} (driver {g.Driver})")),
        m.OpenclDevices is { Count: > 0 } cl ? string.Join("; ", cl.Select(d => d.Name)) : "none",
        m.Dotnet,
    ];

    /// <summary>A measured figure of a group of machines: one value, or the lowest to the highest.</summary>
    private static string Range(IEnumerable<double?> values)
    {
        var measured = values.OfType<double>().ToList();
        if (measured.Count == 0)
            return "-";
        string low = measured.Min().ToString("F1", CultureInfo.InvariantCulture), high = measured.Max().ToString("F1", CultureInfo.InvariantCulture);
        return low == high ? low : $"{low} to {high}";
    }

    private TableData ThroughputTable()
    {
        var rows = Timed.Select(r =>
        {
            var t = r.Throughput!;
            return new[]
            {
                r.Workload, r.Backend, F(t.StepMsMedian), t.StepMsP10 is { } p10 ? F(p10) : "-", t.StepMsP90 is { } p90 ? F(p90) : "-",
                t.Steps.ToString(CultureInfo.InvariantCulture), F(t.SamplesPerSecond), t.TokensPerSecond is { } tok ? F(tok) : "-",
                F(t.Gflops), t.PeakShare is { } share ? (100 * share).ToString("F2", CultureInfo.InvariantCulture) + "%" : "-",
            };
        }).ToList();
        return new TableData(["workload", "backend", "median ms", "p10 ms", "p90 ms", "steps", "samples/s", "tokens/s", "GFLOP/s", "of peak"], rows);
    }

    private TableData CorrectnessTable()
    {
        var rows = new List<string[]>();
        foreach (var workload in Workloads)
        {
            var row = new List<string> { workload };
            foreach (var backend in Backends)
                row.Add(CorrectnessCell(_runs.LastOrDefault(r => r.Workload == workload && r.Backend == backend)));
            rows.Add([.. row]);
        }
        return new TableData(["workload", .. Backends], rows);
    }

    /// <summary>max error and pass/fail; or why there is none.</summary>
    public static string CorrectnessCell(RunRecord? run)
    {
        if (run is null)
            return "-";
        if (run.Status is RunStatus.Unavailable or RunStatus.Skipped)
            return run.Status;
        var c = run.Correctness;
        if (c is null)
            return run.Status == RunStatus.Failed ? "FAIL (error)" : "-";
        if (c.Passed is null)
            return "n/a";
        string err = c.MaxErr is { } e ? e.ToString("0.0e+00", CultureInfo.InvariantCulture) : "NaN/Inf";
        return c.Passed.Value ? $"pass {err}" : $"FAIL {err}";
    }

    private List<string> NotRun() => _runs.Where(r => !r.IsOk)
        .Select(r => $"{r.Workload} on {r.Backend}: {r.Status}: {r.Reason ?? r.Error}").Distinct().ToList();

    private List<string> Notes() => _runs.Where(r => r.Correctness?.Passed is null && r.Correctness?.Note is not null)
        .Select(r => $"{r.Backend}: {r.Correctness!.Note}").Distinct().ToList();

    private static string F(double v) => BarChart.Number(v);

    private string Title => $"KernelLab report: {string.Join(" + ", _inputs.Select(i => i.Document.Suite).Distinct())}";

    // ---------------------------------------------------------------- Markdown

    public string Markdown()
    {
        var md = new StringBuilder();
        md.Append("# ").Append(Title).Append("\n\n");
        md.Append("Results: ").Append(string.Join(", ", _inputs.Select(i => $"`{i.Source}`"))).Append(". ");
        md.Append("Correctness is checked before timing: each backend's gradients against the `reference` backend's on the same seeded parameters and batch.\n\n");
        foreach (var (file, caption, chart) in Charts())
            md.Append(CultureInfo.InvariantCulture, $"![{chart.Title}]({file})\n\n{caption}\n\n");
        md.Append("## Step time and throughput\n\n");
        MarkdownTable(md, ThroughputTable());
        md.Append("## Correctness (max error over the loss and every gradient; pass at 1e-6 for float64, 1e-4 for float32)\n\n");
        MarkdownTable(md, CorrectnessTable());
        var notRun = NotRun();
        if (notRun.Count > 0)
        {
            md.Append("Not run or failed:\n\n");
            foreach (var line in notRun)
                md.Append("- ").Append(line.Replace("|", "\\|")).Append('\n');
            md.Append('\n');
        }
        foreach (var note in Notes())
            md.Append("- n/a: ").Append(note).Append('\n');
        md.Append("## Machine\n\n");
        MarkdownTable(md, MachineTable());
        return md.ToString();
    }

    private static void MarkdownTable(StringBuilder md, TableData table)
    {
        static string Cell(string s) => s.Replace("|", "\\|").ReplaceLineEndings(" ");
        md.Append("| ").Append(string.Join(" | ", table.Header.Select(Cell))).Append(" |\n");
        md.Append('|').Append(string.Concat(table.Header.Select(_ => " --- |"))).Append('\n');
        foreach (var row in table.Rows)
            md.Append("| ").Append(string.Join(" | ", row.Select(Cell))).Append(" |\n");
        md.Append('\n');
    }

    // ---------------------------------------------------------------- HTML

    public string Html()
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.Append("<title>").Append(H(Title)).Append("</title>\n");
        html.Append("""
            <style>
            body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
            th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
            th { background: #f3f3f3; }
            td.pass { background: #e6f4e6; } td.fail { background: #fbe3e3; } td.na { color: #888; }
            figure { margin: 1em 0; } figcaption { color: #555; font-size: 13px; }
            </style>
            </head>
            <body>

            """);
        html.Append("<h1>").Append(H(Title)).Append("</h1>\n<p>Results: ")
            .Append(H(string.Join(", ", _inputs.Select(i => i.Source))))
            .Append(". Correctness is checked before timing: each backend's gradients against the <code>reference</code> backend's on the same seeded parameters and batch.</p>\n");
        foreach (var (_, caption, chart) in Charts())
            html.Append("<figure>\n").Append(chart.ToSvg()).Append("<figcaption>").Append(H(caption)).Append("</figcaption>\n</figure>\n");
        html.Append("<h2>Step time and throughput</h2>\n");
        HtmlTable(html, ThroughputTable());
        html.Append("<h2>Correctness</h2>\n<p>Max error over the loss and every gradient; pass at 1e-6 for float64, 1e-4 for float32.</p>\n");
        HtmlTable(html, CorrectnessTable(), correctness: true);
        var notRun = NotRun();
        if (notRun.Count > 0)
            html.Append("<p>Not run or failed:</p>\n<ul>\n").Append(string.Concat(notRun.Select(l => $"<li>{H(l)}</li>\n"))).Append("</ul>\n");
        var notes = Notes();
        if (notes.Count > 0)
            html.Append("<ul>\n").Append(string.Concat(notes.Select(l => $"<li>n/a: {H(l)}</li>\n"))).Append("</ul>\n");
        html.Append("<h2>Machine</h2>\n");
        HtmlTable(html, MachineTable());
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    private static void HtmlTable(StringBuilder html, TableData table, bool correctness = false)
    {
        html.Append("<table>\n<tr>").Append(string.Concat(table.Header.Select(h => $"<th>{H(h)}</th>"))).Append("</tr>\n");
        foreach (var row in table.Rows)
        {
            html.Append("<tr>");
            for (int i = 0; i < row.Length; i++)
            {
                string cls = !correctness || i == 0 ? "" : row[i].StartsWith("pass", StringComparison.Ordinal) ? " class=\"pass\""
                    : row[i].StartsWith("FAIL", StringComparison.Ordinal) ? " class=\"fail\"" : " class=\"na\"";
                html.Append(CultureInfo.InvariantCulture, $"<td{cls}>{H(row[i])}</td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
    }

    private static string H(string text) => WebUtility.HtmlEncode(text);
}
