using System.CommandLine;
using KernelLab.Reports;
using KernelLab.Results;

namespace KernelLab.Cli;

/// <summary><c>kernellab report DIR [--with OTHER ...] [--baseline BACKEND]</c>: report.md, report.html and SVG charts.</summary>
internal static class ReportCommand
{
    public static Command Create(TextWriter stdout)
    {
        var results = new Argument<string>("results") { Description = "a run's output folder (or its results.json)" };
        var with = new Option<string[]>("--with") { Description = "more result folders or files to show beside it (another machine, tools/torch_baseline.py)", AllowMultipleArgumentsPerToken = true };
        var baseline = new Option<string?>("--baseline") { Description = "backend the speedups are over (default: reference, else the first timed backend)" };
        var output = new Option<string?>("--out") { Description = "folder for the report (default: the results folder)" };
        var command = new Command("report", "write report.md and a self-contained report.html with charts from result files")
        {
            results, with, baseline, output,
        };
        command.SetAction(r =>
        {
            string main = r.GetValue(results)!;
            var inputs = new[] { main }.Concat(r.GetValue(with) ?? [])
                .Select(path => (Source: Directory.Exists(path) ? Path.Combine(path, ResultsFile.FileName) : path, Document: ResultsFile.Load(path)))
                .ToList();
            var report = new Report(inputs, r.GetValue(baseline));
            string outDir = r.GetValue(output) ?? (Directory.Exists(main) ? main : Path.GetDirectoryName(Path.GetFullPath(main))!);
            foreach (string file in report.WriteTo(outDir))
                stdout.WriteLine($"wrote {file}");
            return 0;
        });
        return command;
    }
}
