using System.CommandLine;
using System.Globalization;
using KernelLab.Backends;
using KernelLab.Suites;
using KernelLab.Results;

namespace KernelLab.Cli;

/// <summary><c>kernellab compare BASE NEW [--fail-on-regression PCT]</c>: ratio of medians per workload and backend, with a 95% bootstrap interval.</summary>
internal static class CompareCommand
{
    public static Command Create(TextWriter stdout)
    {
        var baseline = new Argument<string>("base") { Description = "results folder or file to compare against" };
        var candidate = new Argument<string>("new") { Description = "results folder or file to compare" };
        var failOn = new Option<double?>("--fail-on-regression") { Description = "exit 3 when a run is slower by more than PCT percent, beyond noise" };
        var command = new Command("compare", "compare two result files: ratio of median step times with a bootstrap confidence interval")
        {
            baseline, candidate, failOn,
        };
        command.SetAction(r =>
        {
            double? percent = r.GetValue(failOn);
            if (percent is { } given && !(given >= 0 && double.IsFinite(given)))
                throw new KernelLabException($"--fail-on-regression {percent}: expected a percentage >= 0");
            var (before, after) = (ResultsFile.Load(r.GetValue(baseline)!), ResultsFile.Load(r.GetValue(candidate)!));
            if (before.Suite != after.Suite)
                stdout.WriteLine($"note: the suites differ ({before.Suite} against {after.Suite}): workloads are paired by name");
            var rows = Comparison.Compare(before, after);
            if (rows.Count == 0)
                throw new KernelLabException("no workload and backend is timed in both result files");
            stdout.WriteLine($"{"workload",-14}{"backend",-14}{"base ms",12}{"new ms",12}{"new/base",10}  {"95% interval",-18} verdict");
            foreach (var row in rows)
            {
                string interval = double.IsPositiveInfinity(row.High) ? "(no samples)" : $"[{R(row.Low)}, {R(row.High)}]";
                string flag = percent is { } p && row.IsRegression(p) ? $"  REGRESSION > {p.ToString(CultureInfo.InvariantCulture)}%" : "";
                stdout.WriteLine($"{row.Workload,-14}{row.Backend,-14}{Terminal.Ms(row.BaseMedianMs),12}{Terminal.Ms(row.NewMedianMs),12}{R(row.Ratio),10}  {interval,-18} {row.Verdict}{flag}");
            }
            return percent is { } pct && rows.Any(x => x.IsRegression(pct)) ? 3 : 0;
        });
        return command;
    }

    private static string R(double ratio) => ratio.ToString(ratio >= 0.01 ? "F3" : "G3", CultureInfo.InvariantCulture);
}
