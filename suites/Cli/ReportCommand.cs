using System.CommandLine;
using KernelLab.Reports;

namespace KernelLab.Cli;

/// <summary><c>kernellab report DIR [--with OTHER ...] [--baseline BACKEND]</c>: report.md, report.html and the charts (SVG and PNG).</summary>
internal static class ReportCommand
{
    public static Command Create(TextWriter stdout)
    {
        var results = new Argument<string>("results") { Description = "a run's output folder (its results.json and ops-BACKEND.json files), or one results or ops file" };
        var with = new Option<string[]>("--with") { Description = "more result folders or files to show beside it (another machine, tools/torch_baseline.py, kernellab ops)", AllowMultipleArgumentsPerToken = true };
        var baseline = new Option<string?>("--baseline") { Description = "backend the speedups are over (default: PyTorch's where a PyTorch result is merged, else reference, else the first timed backend)" };
        var output = new Option<string?>("--out") { Description = "folder for the report (default: the results folder)" };
        var command = new Command("report", "write report.md, a self-contained report.html and the charts (SVG and PNG) from result and ops files")
        {
            results, with, baseline, output,
        };
        command.SetAction(r =>
        {
            string main = r.GetValue(results)!;
            var report = Report.Load([main, .. r.GetValue(with) ?? []], r.GetValue(baseline));
            string outDir = r.GetValue(output) ?? (Directory.Exists(main) ? main : Path.GetDirectoryName(Path.GetFullPath(main))!);
            foreach (string file in report.WriteTo(outDir))
                stdout.WriteLine($"wrote {file}");
            return 0;
        });
        return command;
    }
}
