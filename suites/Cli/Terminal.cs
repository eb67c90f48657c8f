using System.Diagnostics;
using System.Globalization;
using KernelLab.Suites;
using KernelLab.Results;
using Spectre.Console;

namespace KernelLab.Cli;

internal static class Terminal
{
    /// <summary>True when output goes to the console and the console is a terminal: then progress bars and a live table, else plain lines.</summary>
    public static bool IsInteractive(TextWriter stdout) => ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;

    public static string Ms(double ms) => ms.ToString(ms >= 100 ? "F0" : ms >= 1 ? "F2" : "F4", CultureInfo.InvariantCulture);

    public static string Number(double value) => value.ToString(value >= 100 ? "N0" : "G3", CultureInfo.InvariantCulture);

    public static string Error(double? err) => err is { } e ? e.ToString("0.0e+00", CultureInfo.InvariantCulture) : "-";

    /// <summary>One evaluation of a training run: seed, epoch, step, losses, the target's metric and the time so far.</summary>
    public static string Evaluation(TrainingEvaluation e) => string.Create(CultureInfo.InvariantCulture,
        $"seed {e.Seed} epoch {e.Epoch} step {e.Step}: training loss {e.TrainingLoss:F4}, validation loss {e.ValidationLoss:F4}, {e.Metric} {e.Value:F4}, {e.ElapsedSeconds:F1} s");

    /// <summary>A run's result in a few words: the step time and throughput, or why there is none.</summary>
    public static string Summary(RunRecord run) => run.Status switch
    {
        RunStatus.Ok when run.Training is { } t => $"ok  {t.Metric} target {t.Target.ToString(CultureInfo.InvariantCulture)} reached by {t.Summary?.Reached}/{t.Seeds.Count} seeds" +
            (t.Summary?.TimeToTargetSMean is { } mean ? $", time to target {mean.ToString("F1", CultureInfo.InvariantCulture)} s (mean)" : "") +
            $", final {string.Join(" ", t.Seeds.Select(s => s.FinalMetric?.ToString("F4", CultureInfo.InvariantCulture) ?? "-"))}",
        RunStatus.Ok => $"ok  median {Ms(run.Throughput!.StepMsMedian)} ms ({run.Throughput.Steps} steps), " +
            $"{Number(run.Throughput.SamplesPerSecond)} samples/s, {Number(run.Throughput.Gflops)} GFLOP/s, max err {Error(run.Correctness?.MaxErr)}",
        RunStatus.Unavailable => $"unavailable: {run.Reason}",
        RunStatus.Skipped => $"skipped: {run.Reason}",
        _ => $"failed: {run.Error}",
    };
}

/// <summary>One line per event, for logs and pipes.</summary>
internal sealed class PlainObserver(TextWriter stdout) : ISuiteObserver
{
    public void Started(ResultsDocument document, IReadOnlyList<(Workload Workload, string Backend)> plan)
    {
        var m = document.Machine;
        string share = document.Shard is { } shard ? $" shard {shard} ({plan.Count} of {document.Plan?.Count} runs)" : $" {plan.Count} runs";
        stdout.WriteLine($"suite {document.Suite}:{share} on {m.Host ?? m.Cpu} ({m.Cpu}, {m.Cores} cores, {m.Simd}); " +
            $"peak {m.PeakGflops?.ToString("F1", CultureInfo.InvariantCulture) ?? "-"} GFLOP/s, {m.MemoryGbps?.ToString("F1", CultureInfo.InvariantCulture) ?? "-"} GB/s");
    }

    public void Progress(Workload workload, string backend, string phase, double progress)
    {
    }

    public void Finished(Workload workload, RunRecord run) => stdout.WriteLine($"{workload.Label,-12} {run.Backend,-10} {Terminal.Summary(run)}");

    public void Evaluated(Workload workload, string backend, TrainingEvaluation e) => stdout.WriteLine($"{workload.Label,-12} {backend,-10} {Terminal.Evaluation(e)}");
}

/// <summary>A live table of every run of the suite, the current one with its progress bar.</summary>
internal sealed class LiveTableObserver : ISuiteObserver
{
    private readonly Table _table = new Table().Border(TableBorder.Rounded)
        .AddColumns("workload", "backend", "progress", "median ms", "samples/s", "GFLOP/s", "max err");
    private readonly Dictionary<(Workload, string), int> _rows = [];
    private readonly Stopwatch _sinceRefresh = Stopwatch.StartNew();
    private LiveDisplayContext? _context;

    public T Show<T>(Func<T> run)
    {
        T result = default!;
        AnsiConsole.Live(_table).AutoClear(false).Start(context =>
        {
            _context = context;
            result = run();
            context.Refresh();
        });
        return result;
    }

    public void Started(ResultsDocument document, IReadOnlyList<(Workload Workload, string Backend)> plan)
    {
        var m = document.Machine;
        _table.Title($"suite {Markup.Escape(document.Suite)} on {Markup.Escape(m.Cpu)} ({m.Cores} cores, {m.Simd}, peak {m.PeakGflops:F1} GFLOP/s, {m.MemoryGbps:F1} GB/s)");
        foreach (var (workload, backend) in plan)
        {
            _rows[(workload, backend)] = _table.Rows.Count;
            _table.AddRow(Markup.Escape(workload.Label), Markup.Escape(backend), "[grey]waiting[/]", "", "", "", "");
        }
        _context?.Refresh();
    }

    public void Progress(Workload workload, string backend, string phase, double progress)
    {
        if (_sinceRefresh.ElapsedMilliseconds < 100 && progress < 1)
            return;
        int row = _rows[(workload, backend)];
        _table.UpdateCell(row, 2, $"[yellow]{Bar(progress)}[/] {phase}");
        Refresh();
    }

    public void Finished(Workload workload, RunRecord run)
    {
        int row = _rows[(workload, run.Backend)];
        if (run.Training is not null && run.IsOk)
        {
            _table.UpdateCell(row, 2, $"[green]{Markup.Escape(Terminal.Summary(run))}[/]");
        }
        else if (run.Throughput is { } t)
        {
            _table.UpdateCell(row, 2, $"[green]{Bar(1)} ok[/]");
            _table.UpdateCell(row, 3, Terminal.Ms(t.StepMsMedian));
            _table.UpdateCell(row, 4, Terminal.Number(t.SamplesPerSecond));
            _table.UpdateCell(row, 5, Terminal.Number(t.Gflops));
        }
        else
        {
            string color = run.Status is RunStatus.Unavailable or RunStatus.Skipped ? "grey" : "red";
            _table.UpdateCell(row, 2, $"[{color}]{Markup.Escape(Terminal.Summary(run))}[/]");
        }
        _table.UpdateCell(row, 6, Terminal.Error(run.Correctness?.MaxErr));
        Refresh();
    }

    public void Evaluated(Workload workload, string backend, TrainingEvaluation evaluation)
    {
        _table.UpdateCell(_rows[(workload, backend)], 3, Markup.Escape(Terminal.Evaluation(evaluation)));
        Refresh();
    }

    private void Refresh()
    {
        _sinceRefresh.Restart();
        _context?.Refresh();
    }

    private static string Bar(double progress)
    {
        const int width = 20;
        int filled = (int)Math.Round(Math.Clamp(progress, 0, 1) * width);
        return new string('━', filled) + new string('╌', width - filled) + $" {progress,4:P0}";
    }
}
