using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using KernelLab.Results;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>
/// tools/slurm/suite.sbatch on a real Slurm: a one-node cluster on localhost (tests/slurm/cluster.sh: Debian's slurm-wlm
/// and munge, in a folder of its own), the smoke suite as an array of 3 and the merge job after it. The merged results
/// hold every run exactly once, the same runs as an unsharded run; with one task of a second array cancelled, the
/// merge job names what is missing and --allow-partial merges the rest. Skipped, with the reason, where Slurm is not
/// installed or the test is not root.
/// </summary>
public sealed partial class SlurmClusterTests : SuiteTestBase
{
    private static readonly string Bin = AppContext.BaseDirectory;
    private static readonly string ClusterScript = Path.Combine(Bin, "slurm", "cluster.sh");
    private static readonly string SuiteScript = Path.Combine(Bin, "tools", "slurm", "suite.sbatch");
    private const string Backends = "reference,cpu-simd";
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public void ArrayJobOverTheSmokeSuite_MergesEveryRunOnce_AndACancelledTaskIsNamed()
    {
        var check = Shell("bash", ClusterScript, "check");
        if (check.Code == 3)
            Assert.Skip(check.Output.Trim());
        Assert.True(check.Code == 0, check.Output);

        string cluster = Temp("cluster");
        var clock = Stopwatch.StartNew();
        try
        {
            var start = Shell("bash", ClusterScript, "start", cluster);
            Assert.True(start.Code == 0, $"cluster.sh start failed: {start.Output}");
            string suite = Bundled("smoke");

            // The whole array: merged and reported by the job that follows it.
            string complete = Temp("complete");
            var (_, merge) = Submit(cluster, suite, complete, taskOptions: "");
            var (code, _, stderr) = Cli("run", suite, "--backends", Backends, "--out", Temp("unsharded"));
            Assert.True(code == 0, stderr);
            Assert.Equal("COMPLETED", WaitFor(cluster, merge, complete));

            var merged = ResultsFile.Load(complete);
            var unsharded = ResultsFile.Load(Temp("unsharded"));
            var keys = merged.Runs.Select(r => PlannedRun.Of(r, merged.Settings)).ToList();
            Assert.Equal(merged.Plan, keys); // every planned run exactly once, in the plan's order
            Assert.Equal(unsharded.Runs.Select(r => PlannedRun.Of(r, unsharded.Settings)), keys);
            Assert.Equal(2 * SuiteTestBase.SmokeWorkloads, keys.Count);
            Assert.All(merged.Runs, r => Assert.Equal(RunStatus.Ok, r.Status));
            Assert.Equal([0, 1, 2], merged.MergedFrom!.Select(m => m.Shard!.Index));
            Assert.All(merged.MergedFrom!, m => Assert.Equal(3, m.Shard!.Count));
            Assert.All(merged.MergedFrom!, m => Assert.Matches(@"^\d+_[0-2]$", m.Machine.SlurmJob));
            Assert.True(File.Exists(Path.Combine(complete, "report.md")), "the merge job wrote no report");

            // A second array held, one task cancelled before it starts, the others released.
            string partial = Temp("partial");
            var (array, merge2) = Submit(cluster, suite, partial, taskOptions: "--hold");
            Assert.Equal(0, Slurm(cluster, "scancel", $"{array}_1").Code);
            Assert.Equal(0, Slurm(cluster, "scontrol", "release", array).Code);
            Assert.Equal("FAILED", WaitFor(cluster, merge2, partial));

            int[] shardOf = Shard.Assign(merged.Plan!, 3);
            var lost = merged.Plan!.Where((_, p) => shardOf[p] == 1).Select(r => r.ToString()).ToList();
            string log = File.ReadAllText(Path.Combine(partial, "logs", "merge.out"));
            Assert.Contains($"{lost.Count} of {merged.Plan!.Count} runs are missing", log);
            Assert.All(lost, run => Assert.Contains(run, log));
            Assert.False(Directory.Exists(Path.Combine(partial, "shards", "1")));

            string[] shards = [Path.Combine(partial, "shards", "0"), Path.Combine(partial, "shards", "2")];
            AssertOneLineError(Cli(["merge", .. shards, "--out", Temp("rest")]), ["runs are missing", .. lost, "(shard 1/3)"]);
            (code, var stdout, stderr) = Cli(["merge", .. shards, "--out", Temp("rest"), "--allow-partial"]);
            Assert.True(code == 0, stderr);
            Assert.All(lost, run => Assert.Contains(run, stdout));
            var rest = ResultsFile.Load(Temp("rest"));
            Assert.Equal(merged.Plan!.Where((_, p) => shardOf[p] != 1), rest.Runs.Select(r => PlannedRun.Of(r, rest.Settings)));
        }
        finally
        {
            var stop = Shell("bash", ClusterScript, "stop", cluster);
            TestContext.Current.TestOutputHelper?.WriteLine($"Slurm test: {clock.Elapsed.TotalSeconds:F1} s; cluster.sh stop: {stop.Output}");
        }
    }

    /// <summary>Submits tools/slurm/suite.sbatch over <paramref name="suite"/> as 3 shards; the array's and the merge job's ids.</summary>
    private static (string Array, string Merge) Submit(string cluster, string suite, string output, string taskOptions)
    {
        var submitted = Slurm(cluster, "bash", [SuiteScript], new()
        {
            ["SUITE"] = suite, ["BACKENDS"] = Backends, ["SHARDS"] = "3", ["OUT"] = output,
            ["KERNELLAB"] = Path.Combine(Bin, "kernellab"), ["TASK_OPTIONS"] = taskOptions, ["MERGE_OPTIONS"] = "",
        });
        var match = SubmittedLine().Match(submitted.Output);
        Assert.True(submitted.Code == 0 && match.Success, $"suite.sbatch: {submitted.Output}");
        return (match.Groups[1].Value, match.Groups[2].Value);
    }

    [GeneratedRegex(@"submitted array job (\d+) \(3 shards\) and merge job (\d+)")]
    private static partial Regex SubmittedLine();

    /// <summary>Waits for a job to end; its final state (COMPLETED, FAILED, ...), or a failed assertion with the job logs.</summary>
    private static string WaitFor(string cluster, string job, string output)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < JobTimeout)
        {
            var show = Slurm(cluster, "scontrol", "show", "job", "-o", job);
            var state = JobState().Match(show.Output);
            if (state.Success && state.Groups[1].Value is not ("PENDING" or "RUNNING" or "CONFIGURING" or "COMPLETING" or "REQUEUED" or "SUSPENDED"))
                return state.Groups[1].Value;
            Thread.Sleep(250);
        }
        string logs = Directory.Exists(Path.Combine(output, "logs"))
            ? string.Join(" | ", Directory.GetFiles(Path.Combine(output, "logs")).Select(f => $"{Path.GetFileName(f)}: {File.ReadAllText(f)}"))
            : "no logs";
        Assert.Fail($"job {job} did not end in {JobTimeout.TotalMinutes} minutes; squeue: {Slurm(cluster, "squeue").Output}; {logs}");
        return "";
    }

    [GeneratedRegex(@"JobState=(\w+)")]
    private static partial Regex JobState();

    private static (int Code, string Output) Slurm(string cluster, string tool, params string[] arguments) => Slurm(cluster, tool, arguments, []);

    /// <summary>A Slurm client (or the sbatch script) against the test's cluster: its slurm.conf, and none of an enclosing job's variables.</summary>
    private static (int Code, string Output) Slurm(string cluster, string tool, string[] arguments, Dictionary<string, string> environment)
    {
        environment["SLURM_CONF"] = Path.Combine(cluster, "slurm.conf");
        // The tasks run the test's own kernellab apphost: tell it where this runtime is.
        environment["DOTNET_ROOT"] = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        return Shell(tool, arguments, environment);
    }

    private static (int Code, string Output) Shell(string tool, params string[] arguments) => Shell(tool, arguments, []);

    private static (int Code, string Output) Shell(string tool, string[] arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("SLURM_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{tool} did not end in 2 minutes: {stdout}{stderr.Result}");
        }
        return (process.ExitCode, stdout + stderr.Result);
    }
}
