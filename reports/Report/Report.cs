using System.Globalization;
using System.Net;
using System.Text;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Results;
using KernelLab.Suites;
using ScottPlot;

namespace KernelLab.Reports;

/// <summary>
/// A report of one or more result files, and of ops files (<c>kernellab ops</c>): report.md (with each chart as a PNG beside
/// it, so it renders on a code-hosting site, and as SVG) and report.html (one file: charts as SVG inline, styles inline,
/// nothing fetched). A chart is drawn only where the results hold its data.
/// </summary>
public sealed class Report
{
    private readonly IReadOnlyList<(string Source, ResultsDocument Document)> _inputs;
    private readonly IReadOnlyList<(string Source, OpsDocument Document)> _ops;
    private readonly List<RunRecord> _runs;
    private readonly Func<RunRecord, string> _label;
    private readonly BackendColors _colors;

    public Report(IReadOnlyList<(string Source, ResultsDocument Document)> inputs, string? baseline = null,
        IReadOnlyList<(string Source, OpsDocument Document)>? ops = null)
    {
        _ops = ops ?? [];
        if (inputs.Count == 0 && _ops.Count == 0)
            throw new ArgumentException("no results", nameof(inputs));
        _inputs = inputs;
        _runs = inputs.SelectMany(i => i.Document.Runs.Select(r => WithPeakShare(r, i.Document.Machine, inputs))).ToList();
        _label = RunRecord.Labels(_runs);
        Workloads = _runs.Select(_label).Distinct().ToList();
        TimedWorkloads = _runs.Where(r => r.Throughput is not null).Select(_label).Distinct().ToList();
        Backends = _runs.Select(r => r.Backend).Distinct().ToList();
        var measured = _runs.Where(r => r.Throughput is not null).Select(r => r.Backend).Distinct().ToList();
        if (baseline is not null && !measured.Contains(baseline))
            throw new KernelLabException($"--baseline {baseline}: no timed run of that backend in the results (timed: {(measured.Count == 0 ? "none" : string.Join(", ", measured))})");
        Baseline = baseline ?? DefaultBaseline(measured);
        TimedBackends = measured;
        _colors = new BackendColors([.. Backends.Union(_ops.Select(o => o.Document.Backend))]);
    }

    /// <summary>
    /// A report of result folders and files: a folder gives its results.json and its ops files (ops-BACKEND.json), a file is
    /// a results file or an ops file as its schema says.
    /// </summary>
    public static Report Load(IEnumerable<string> paths, string? baseline = null)
    {
        var results = new List<(string, ResultsDocument)>();
        var ops = new List<(string, OpsDocument)>();
        foreach (string path in paths)
        {
            string[] opsFiles = Directory.Exists(path) ? [.. Directory.GetFiles(path, ResultsFile.OpsFilePattern).Order(StringComparer.Ordinal)] : [];
            string resultsFile = Directory.Exists(path) ? Path.Combine(path, ResultsFile.FileName) : path;
            if (!Directory.Exists(path) && ResultsFile.IsOpsFile(path))
                ops.Add((path, ResultsFile.LoadOps(path)));
            else if (opsFiles.Length == 0 || File.Exists(resultsFile))
                results.Add((resultsFile, ResultsFile.Load(resultsFile)));
            ops.AddRange(opsFiles.Select(f => (f, ResultsFile.LoadOps(f))));
        }
        return new Report(results, baseline, ops);
    }

    /// <summary>PyTorch's row where a PyTorch result is merged (the speed to beat), else the reference, else the first timed backend.</summary>
    private static string? DefaultBaseline(IReadOnlyList<string> timed) =>
        timed.FirstOrDefault(b => b.StartsWith(PyTorchPrefix, StringComparison.Ordinal))
        ?? (timed.Contains(SuiteRunner.ReferenceBackend) ? SuiteRunner.ReferenceBackend : timed.FirstOrDefault());

    /// <summary>How tools/torch_baseline.py names its backends (pytorch-cpu, pytorch-cuda).</summary>
    public const string PyTorchPrefix = "pytorch";

    /// <summary>The workloads as the charts and tables name them: with the batch or thread count where a suite swept them.</summary>
    public IReadOnlyList<string> Workloads { get; }

    /// <summary>Workloads with at least one timed run: the bar charts' groups.</summary>
    public IReadOnlyList<string> TimedWorkloads { get; }

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

    /// <summary>Backends with at least one timed run: the bar charts' series.</summary>
    public IReadOnlyList<string> TimedBackends { get; }

    public string? Baseline { get; }

    /// <summary>The names of the charts, and of their files (NAME.svg, NAME.png), as scripts look for them.</summary>
    public const string StepTimeChart = "step-time", SpeedupChart = "speedup", PeakShareChart = "peak-share", ScalingChartName = "scaling",
        RooflineChartName = "roofline", TrainingCurvesChartName = "training-curves";

    public static readonly IReadOnlyList<string> ChartNames =
        [StepTimeChart, SpeedupChart, PeakShareChart, ScalingChartName, RooflineChartName, TrainingCurvesChartName];

    /// <summary>
    /// Writes report.md, report.html and each chart as SVG and PNG into <paramref name="directory"/>, all or none; a chart's
    /// files left there by an earlier report whose data this one lacks are removed, so that a script finds only this report's.
    /// </summary>
    public IReadOnlyList<string> WriteTo(string directory)
    {
        OutputFolder.Create(directory);
        var charts = Charts();
        var svgs = charts.Select(c => (Chart: c, Svg: c.ToSvg())).ToList();
        var files = new List<(string Path, Action<Stream> Write)>();
        foreach (var (chart, svg) in svgs)
        {
            byte[] png = chart.ToPng();
            files.Add((Path.Combine(directory, chart.SvgFile), s => s.Write(Encoding.UTF8.GetBytes(svg))));
            files.Add((Path.Combine(directory, chart.PngFile), s => s.Write(png)));
        }
        files.Add((Path.Combine(directory, "report.md"), s => s.Write(Encoding.UTF8.GetBytes(Markdown(charts)))));
        files.Add((Path.Combine(directory, "report.html"), s => s.Write(Encoding.UTF8.GetBytes(Html(svgs)))));
        AtomicFile.WriteAll(files);
        foreach (string stale in ChartNames.Except(charts.Select(c => c.Name)).SelectMany(n => new[] { n + ".svg", n + ".png" }))
            File.Delete(Path.Combine(directory, stale));
        return files.Select(f => f.Path).ToList();
    }

    /// <summary>The charts this report's data can draw, in the order the report shows them.</summary>
    public IReadOnlyList<Chart> Charts()
    {
        var charts = new List<Chart>();
        if (Timed.Any())
            charts.Add(new Chart(StepTimeChart, "Step time per workload",
                "Median step time (forward, backward, optimizer); whiskers p10 to p90. Lower is better.", [StepTime()]));
        if (SpeedupValues().Keys.Any(k => k.Series != Baseline))
            charts.Add(new Chart(SpeedupChart, $"Speedup over {Baseline}",
                $"Speedup over {Baseline} (--baseline; the dashed line at 1x): its median step time over each backend's. Higher is better.", [Speedup()]));
        if (Timed.Any(r => r.Throughput!.PeakShare is not null))
            charts.Add(new Chart(PeakShareChart, "Share of the measured peak",
                "Counted GFLOP/s as a share of the machine's measured float32 FMA peak (CPU backends).", [PeakShare()]));
        if (ScalingChart.Draw(ScalingPoints(), _colors) is { Count: > 0 } scaling)
            charts.Add(new Chart(ScalingChartName, "Throughput against the swept batch or thread count",
                "Samples per second at each value of a workload's batch or threads list, one line per backend: how cost grows as the work grows.", scaling));
        if (RooflinePoints() is { Count: > 0 } points)
            charts.Add(new Chart(RooflineChartName, "Roofline of the ops",
                "Each op of kernellab ops at its arithmetic intensity (counted FLOP over the least bytes it must move) against the GFLOP/s it reached; " +
                "the ceilings are the machine's measured float32 FMA peak and copy bandwidth (the host CPU's: for a GPU backend they are not its own).",
                [RooflineChart.Draw(points, Roofs(), _colors)]));
        if (TrainingRuns() is { Count: > 0 } training)
            charts.Add(new Chart(TrainingCurvesChartName, "Training curves",
                "Training to a target: the training loss and the validation metric against the training step, each seed a line.",
                TrainingCurvesChart.Draw(training, _colors), columns: 2));
        return charts;
    }

    private IEnumerable<RunRecord> Timed => _runs.Where(r => r.Throughput is not null);

    public Plot StepTime() => GroupedBars.Draw("Step time per workload", "ms per training step", "", TimedWorkloads, TimedBackends,
        Timed.GroupBy(r => (_label(r), r.Backend)).ToDictionary(g => g.Key, g =>
        {
            var t = g.Last().Throughput!;
            return new BarValue(t.StepMsMedian, t.StepMsP10, t.StepMsP90);
        }), _colors);

    /// <summary>Each timed run's speedup over the baseline's run of the same workload.</summary>
    public IReadOnlyDictionary<(string Category, string Series), BarValue> SpeedupValues()
    {
        var values = new Dictionary<(string, string), BarValue>();
        foreach (var workload in TimedWorkloads)
        {
            var baseline = Timed.LastOrDefault(r => _label(r) == workload && r.Backend == Baseline);
            if (baseline is null)
                continue;
            foreach (var run in Timed.Where(r => _label(r) == workload))
                values[(workload, run.Backend)] = new BarValue(baseline.Throughput!.StepMsMedian / run.Throughput!.StepMsMedian);
        }
        return values;
    }

    /// <summary>The baseline's own bars would all be 1: the dashed line at 1 stands for it.</summary>
    public Plot Speedup() => GroupedBars.Draw($"Speedup over {Baseline}", $"times faster than {Baseline}", "x", TimedWorkloads,
        [.. TimedBackends.Where(b => b != Baseline)], SpeedupValues(), _colors, referenceLine: 1);

    public Plot PeakShare() => GroupedBars.Draw("Share of the measured peak", "% of peak FMA GFLOP/s", "%", TimedWorkloads, TimedBackends,
        Timed.Where(r => r.Throughput!.PeakShare is not null).GroupBy(r => (_label(r), r.Backend))
            .ToDictionary(g => g.Key, g => new BarValue(100 * g.Last().Throughput!.PeakShare!.Value)), _colors);

    public IReadOnlyList<ScalingPoint> ScalingPoints() =>
        [.. Timed.Where(r => r.Batch is not null).Select(r => new ScalingPoint(r.Workload, r.Backend, r.Batch!.Value, r.Threads, r.Throughput!.SamplesPerSecond))];

    public IReadOnlyList<RooflinePoint> RooflinePoints() =>
        [.. _ops.SelectMany(o => o.Document.Ops.Select(op => RooflinePoint.From(o.Document.Backend, op))).OfType<RooflinePoint>()];

    /// <summary>The ceilings of each machine the ops files were measured on, where its probe measured both peaks.</summary>
    public IReadOnlyList<Roof> Roofs() =>
        [.. _ops.Select(o => o.Document.Machine).OfType<MachineInfo>()
            .Where(m => m.PeakGflops is > 0 && m.MemoryGbps is > 0)
            .Select(m => new Roof($"{m.Cpu}, {m.Cores} cores", m.PeakGflops!.Value, m.MemoryGbps!.Value)).Distinct()];

    public IReadOnlyList<TrainingRun> TrainingRuns() =>
        [.. _runs.Where(r => r.Training is not null).SelectMany(r => r.Training!.Seeds.Where(s => s.Curves is not null)
            .Select(s => new TrainingRun(_label(r), r.Backend, s.Seed, r.Training!.Metric, r.Training.Target, s.Curves!)))];

    // ---------------------------------------------------------------- tables, shared by Markdown and HTML

    private sealed record TableData(string[] Header, List<string[]> Rows);

    /// <summary>One row per kind of machine of each results file (a merged file's shards ran on several): its hosts, then what they share.</summary>
    private TableData MachineTable()
    {
        var rows = new List<string[]>();
        var machines = _inputs.Select(i => (i.Source, What: $"suite {i.Document.Suite}", i.Document.Started, Machines: i.Document.Machines))
            .Concat(_ops.Select(o => (o.Source, What: $"ops of {o.Document.Backend} at {o.Document.Shapes}'s shapes", Started: "-",
                Machines: o.Document.Machine is { } m ? (IReadOnlyList<MachineInfo>)[m] : [])));
        foreach (var (source, what, started, all) in machines)
        {
            foreach (var same in all.GroupBy(m => string.Join('\n', Hardware(m))))
            {
                var m = same.First();
                var hosts = same.Select(x => x.Host).OfType<string>().Distinct().ToList();
                rows.Add([
                    source, what, started, hosts.Count == 0 ? "-" : string.Join(", ", hosts), .. Hardware(m),
                    Range(same.Select(x => x.PeakGflops)) + VectorBits(same.Select(x => x.PeakVectorBits)), Range(same.Select(x => x.MemoryGbps)),
                ]);
            }
        }
        return new TableData(["file", "of", "started", "hosts", "OS", "CPU", "cores", "SIMD", "GPUs", "OpenCL devices", ".NET", "peak GFLOP/s", "copy GB/s"], rows);
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

    /// <summary>" (512-bit FMA)" where the group's peaks were measured at one recorded width; nothing for older files.</summary>
    private static string VectorBits(IEnumerable<int?> values)
    {
        var bits = values.OfType<int>().Distinct().ToList();
        return bits.Count == 1 ? $" ({bits[0].ToString(CultureInfo.InvariantCulture)}-bit FMA)" : "";
    }

    private TableData ThroughputTable()
    {
        var rows = Timed.Select(r =>
        {
            var t = r.Throughput!;
            return new[]
            {
                _label(r), r.Backend, F(t.StepMsMedian), t.StepMsP10 is { } p10 ? F(p10) : "-", t.StepMsP90 is { } p90 ? F(p90) : "-",
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
                row.Add(CorrectnessCell(_runs.LastOrDefault(r => _label(r) == workload && r.Backend == backend)));
            rows.Add([.. row]);
        }
        return new TableData(["workload", .. Backends], rows);
    }

    /// <summary>Per ops file: how many ops matched the reference and were timed, and the ones that did not.</summary>
    private TableData OpsTable() => new(["file", "backend", "device", "shapes", "ops", "matched and timed", "failed"],
        [.. _ops.Select(o => new[]
        {
            o.Source, o.Document.Backend, o.Document.Device, o.Document.Shapes, o.Document.Ops.Count.ToString(CultureInfo.InvariantCulture),
            o.Document.Ops.Count(op => op.Passed).ToString(CultureInfo.InvariantCulture),
            string.Join("; ", o.Document.Ops.Where(op => !op.Passed).Select(op => $"{op.Op} {op.Shape}: {op.Error}")) is { Length: > 0 } failed ? failed : "none",
        })]);

    /// <summary>
    /// Per ops file and workload, where a training step's time goes: each op's time in the step (its median times its runs
    /// per step, summed over its shapes) and its share of the ops' sum, largest first. Older ops files, without runs per
    /// step, have no rows.
    /// </summary>
    private TableData StepOpsTable() => new(["backend", "workload", "op", "runs per step", "ms per step", "share of the ops' sum"],
        [.. _ops.SelectMany(o => o.Document.Ops.GroupBy(op => op.Workload).SelectMany(workload =>
        {
            var ops = StepOp.Of(workload);
            double sum = ops.Sum(op => op.MsPerStep);
            return ops.Select(op => new[] { o.Document.Backend, workload.Key, op.Op, op.RunsPerStep.ToString("0.##", CultureInfo.InvariantCulture), F(op.MsPerStep), sum > 0 ? $"{100 * op.MsPerStep / sum:F1} %" : "-" });
        }))]);

    /// <summary>Training-to-target runs, one row per workload and backend: the seeds' summary.</summary>
    private TableData TimeToTargetTable() => new(["workload", "backend", "device", "metric", "target", "seeds reached", "time to target s (mean)", "fastest s", "slowest s"],
        [.. _runs.Where(r => r.Training is not null).Select(r =>
        {
            var t = r.Training!;
            var summary = t.Summary ?? TrainingSummary.Of(t.Seeds);
            var times = t.Seeds.Select(s => s.TimeToTargetS).OfType<double>().ToList();
            return new[]
            {
                _label(r), r.Backend, r.Device ?? "-", t.Metric, F(t.Target), $"{summary.Reached}/{summary.Seeds}",
                summary.TimeToTargetSMean is { } mean ? F(mean) : "-", times.Count > 0 ? F(times.Min()) : "-", times.Count > 0 ? F(times.Max()) : "-",
            };
        })]);

    /// <summary>Training-to-target runs, one row per seed.</summary>
    private TableData TrainingTable() => new(["workload", "backend", "seed", "metric", "target", "time to target s", "epochs", "steps", "final", "stopped"],
        [.. _runs.Where(r => r.Training is not null).SelectMany(r => r.Training!.Seeds.Select(s => new[]
        {
            _label(r), r.Backend, s.Seed.ToString(CultureInfo.InvariantCulture), r.Training!.Metric, F(r.Training.Target),
            s.TimeToTargetS is { } t ? F(t) : "not reached", s.Epochs.ToString(CultureInfo.InvariantCulture),
            s.Steps.ToString(CultureInfo.InvariantCulture), s.FinalMetric is { } m ? F(m) : "-", s.Stopped ?? "-",
        }))]);

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
        .Select(r => $"{_label(r)} on {r.Backend}: {r.Status}: {r.Reason ?? r.Error}").Distinct().ToList();

    private List<string> Notes() => _runs.Where(r => r.Correctness?.Passed is null && r.Correctness?.Note is not null)
        .Select(r => $"{r.Backend}: {r.Correctness!.Note}").Distinct().ToList();

    private static string F(double v) => Chart.Number(v);

    private string Title => $"KernelLab report: {string.Join(" + ", _inputs.Select(i => i.Document.Suite).Concat(_ops.Select(o => $"ops of {o.Document.Backend}")).Distinct())}";

    private IEnumerable<string> Sources => _inputs.Select(i => i.Source).Concat(_ops.Select(o => o.Source));

    private const string CheckedFirst = "Correctness is checked before timing: each backend's gradients against the reference backend's on the same seeded parameters and batch, each op against the reference's with fresh inputs.";

    /// <summary>The report's sections after the charts: each a heading, a note and a table, where the data has rows.</summary>
    private IEnumerable<(string Heading, string? Note, TableData Table, bool Correctness)> Sections() =>
        new (string, string?, TableData, bool)[]
        {
            ("Step time and throughput", null, ThroughputTable(), false),
            ("Correctness", "Max error over the loss and every gradient; pass at 1e-6 for float64, 1e-4 for float32.", CorrectnessTable(), true),
            ("Time to target", "Per workload and backend, as MLPerf summarises seeds: the mean time to the target after dropping the fastest and the slowest seed (the plain mean with fewer than three seeds); none unless every seed reached the target.", TimeToTargetTable(), false),
            ("Training to a target", "Per seed: the time from the first touch of the data to the target, or 'not reached', and why training stopped.", TrainingTable(), false),
            ("Ops", "kernellab ops: each op checked against the reference, then timed; the roofline above draws the timed ones.", OpsTable(), false),
            ("Where a step's time goes", "kernellab ops: each op's median times the runs of it in one training step, summed over its shapes, as a share of all the step's ops; each op timed alone (warm caches), so the sum is not the step time.", StepOpsTable(), false),
            ("Machine", null, MachineTable(), false),
        }.Where(s => s.Item3.Rows.Count > 0);

    // ---------------------------------------------------------------- Markdown

    private string Markdown(IReadOnlyList<Chart> charts)
    {
        var md = new StringBuilder();
        md.Append("# ").Append(Title).Append("\n\n");
        md.Append("Results: ").Append(string.Join(", ", Sources.Select(s => $"`{s}`"))).Append(". ").Append(CheckedFirst).Append("\n\n");
        foreach (var chart in charts)
            md.Append(CultureInfo.InvariantCulture, $"![{chart.Title}]({chart.PngFile})\n\n{chart.Caption} ([SVG]({chart.SvgFile}))\n\n");
        foreach (var (heading, note, table, _) in Sections())
        {
            md.Append("## ").Append(heading).Append("\n\n");
            if (note is not null)
                md.Append(note).Append("\n\n");
            MarkdownTable(md, table);
        }
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

    /// <summary>One page with nothing to fetch: each chart an SVG image inline, as a data URI (its own document, so the ids ScottPlot gives its clip paths stay apart).</summary>
    private string Html(IReadOnlyList<(Chart Chart, string Svg)> charts)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.Append("<title>").Append(H(Title)).Append("</title>\n");
        html.Append("""
            <style>
            body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
            th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
            th { background: #f3f3f3; }
            td.pass { background: #e6f4e6; } td.fail { background: #fbe3e3; } td.na { color: #888; }
            figure { margin: 1em 0; } figcaption { color: #555; font-size: 13px; } img.chart { max-width: 100%; height: auto; }
            </style>
            </head>
            <body>

            """);
        html.Append("<h1>").Append(H(Title)).Append("</h1>\n<p>Results: ").Append(H(string.Join(", ", Sources))).Append(". ").Append(H(CheckedFirst)).Append("</p>\n");
        foreach (var (chart, image) in charts)
        {
            string svg = Convert.ToBase64String(Encoding.UTF8.GetBytes(image));
            html.Append(CultureInfo.InvariantCulture, $"<figure id=\"{chart.Name}\">\n<img class=\"chart\" alt=\"{H(chart.Title)}\" width=\"{Chart.Width}\" height=\"{chart.Height}\" src=\"data:image/svg+xml;base64,{svg}\">\n");
            html.Append("<figcaption>").Append(H(chart.Caption)).Append("</figcaption>\n</figure>\n");
        }
        foreach (var (heading, note, table, correctness) in Sections())
        {
            html.Append("<h2>").Append(H(heading)).Append("</h2>\n");
            if (note is not null)
                html.Append("<p>").Append(H(note)).Append("</p>\n");
            HtmlTable(html, table, correctness);
        }
        var notRun = NotRun();
        if (notRun.Count > 0)
            html.Append("<p>Not run or failed:</p>\n<ul>\n").Append(string.Concat(notRun.Select(l => $"<li>{H(l)}</li>\n"))).Append("</ul>\n");
        var notes = Notes();
        if (notes.Count > 0)
            html.Append("<ul>\n").Append(string.Concat(notes.Select(l => $"<li>n/a: {H(l)}</li>\n"))).Append("</ul>\n");
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    private static void HtmlTable(StringBuilder html, TableData table, bool correctness)
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
