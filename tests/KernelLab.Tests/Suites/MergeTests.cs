using System.Text.Json;
using System.Text.Json.Nodes;
using KernelLab.Reports;
using KernelLab.Results;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>
/// Three shards of the quick smoke suite on reference and cpu-simd, the same suite unsharded, a shard of another suite
/// file and one run on other backends: run once for the merge tests.
/// </summary>
public sealed class ShardedSmoke : IDisposable
{
    public static readonly string[] Backends = ["reference", "cpu-simd"];

    public ShardedSmoke()
    {
        Directory.CreateDirectory(Dir);
        var json = JsonNode.Parse(File.ReadAllText(SuiteTestBase.Bundled("smoke")))!.AsObject();
        json["warmup_steps"] = 0;
        json["warmup_seconds"] = 0;
        json["min_steps"] = 2;
        json["min_seconds"] = 0;
        string text = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        SuiteFile = Path.Combine(Dir, "quick.json");
        File.WriteAllText(SuiteFile, text);
        // The same suite, but not the same file: a byte more.
        string other = Path.Combine(Dir, "other.json");
        File.WriteAllText(other, text + "\n");

        var suite = Suite.Load(SuiteFile);
        Unsharded = Run(suite, Backends, "unsharded", null);
        Shards = [.. Enumerable.Range(0, 3).Select(i => Run(suite, Backends, $"shard-{i}", new Shard(i, 3)))];
        OtherSuiteShard2 = Run(Suite.Load(other), Backends, "other-2", new Shard(2, 3));
        OtherBackendsShard2 = Run(suite, ["reference"], "reference-2", new Shard(2, 3));
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "kernellab-merge-" + Guid.NewGuid().ToString("N"));

    public string SuiteFile { get; }

    public string Unsharded { get; }

    public string[] Shards { get; }

    public string OtherSuiteShard2 { get; }

    public string OtherBackendsShard2 { get; }

    private string Run(Suite suite, string[] backends, string folder, Shard? shard)
    {
        string dir = Path.Combine(Dir, folder);
        new SuiteRunner(suite, backends, dir, new QuietObserver()) { ProbePeaks = false, Shard = shard }.Run();
        return dir;
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>
/// <c>kernellab merge</c>: shards into one results file that report and compare read like any other; a missing,
/// duplicated or foreign shard, or a folder that is not a results folder, is one line, a non-zero exit and no output;
/// <c>--allow-partial</c> merges the rest and names what is missing.
/// </summary>
public sealed class MergeTests(ShardedSmoke smoke) : SuiteTestBase, IClassFixture<ShardedSmoke>
{
    private static (string Workload, string Backend, ulong? Seed) Key(RunRecord r) => (r.Workload, r.Backend, r.Seed);

    /// <summary>Runs of the smoke suite on the two backends, and the message for shard 1's missing.</summary>
    private static int Runs => ShardedSmoke.Backends.Length * SmokeWorkloads;

    private string Missing => $"{ShardRuns(1).Count()} of {Runs} runs are missing";

    private IEnumerable<string> ShardRuns(int shard) =>
        ResultsFile.Load(smoke.Shards[shard]).Runs.Select(r => $"{r.Workload} on {r.Backend} (seed {r.Seed})");

    [Fact]
    public void MergesEveryShardIntoOneFileThatReportAndCompareRead()
    {
        string merged = Temp("merged");
        var (code, stdout, stderr) = Cli(["merge", .. smoke.Shards, "--out", merged]);
        Assert.True(code == 0, stderr);
        Assert.Equal($"wrote {Path.Combine(merged, "results.json")}: {Runs} of {Runs} runs from 3 results (1 host)", stdout.Trim());

        var document = ResultsFile.Load(merged);
        var unsharded = ResultsFile.Load(smoke.Unsharded);
        Assert.Equal(unsharded.Runs.Select(Key), document.Runs.Select(Key)); // every run once, in the suite's order
        Assert.Equal(unsharded.Plan, document.Plan);
        Assert.Null(document.Shard);
        Assert.Equal(unsharded.Settings!.SuiteSha256, document.Settings!.SuiteSha256);
        Assert.Equal([0, 1, 2], document.MergedFrom!.Select(m => m.Shard!.Index));
        Assert.Equal(smoke.Shards, document.MergedFrom!.Select(m => m.Source));
        Assert.Equal(Runs, document.MergedFrom!.Sum(m => m.Runs));
        Assert.All(document.Runs, r => Assert.Equal(Environment.MachineName, r.Host));

        (code, _, stderr) = Cli("report", merged);
        Assert.True(code == 0, stderr);
        string report = File.ReadAllText(Path.Combine(merged, "report.md"));
        Assert.Contains($"| {Environment.MachineName} |", report);
        (code, stdout, stderr) = Cli("compare", smoke.Unsharded, merged);
        Assert.True(code == 0, stderr);
        Assert.Equal(1 + Runs, stdout.Trim().Split('\n').Length); // the header and a line per run
    }

    [Fact]
    public void AMissingShardIsNamed()
    {
        string merged = Temp("merged");
        var result = Cli("merge", smoke.Shards[0], smoke.Shards[2], "--out", merged);
        AssertOneLineError(result, [Missing, .. ShardRuns(1), "(shard 1/3)", "--allow-partial"]);
        Assert.Equal(1, result.Code);
        Assert.False(Directory.Exists(merged));
    }

    [Fact]
    public void AllowPartialMergesTheRestAndNamesWhatIsMissing()
    {
        string merged = Temp("merged");
        var (code, stdout, stderr) = Cli("merge", smoke.Shards[0], smoke.Shards[2], "--out", merged, "--allow-partial");
        Assert.True(code == 0, stderr);
        string note = stdout.Split('\n')[0];
        Assert.StartsWith($"partial merge: {Missing}: ", note);
        Assert.All(ShardRuns(1), run => Assert.Contains(run, note));
        Assert.Contains("wrote", stdout);
        var document = ResultsFile.Load(merged);
        Assert.Equal(Runs - ShardRuns(1).Count(), document.Runs.Count);
        Assert.Equal(Runs, document.Plan!.Count);

        // The shard run again completes it: a merged file merges like a shard.
        string complete = Temp("complete");
        (code, _, stderr) = Cli("merge", merged, smoke.Shards[1], "--out", complete);
        Assert.True(code == 0, stderr);
        var whole = ResultsFile.Load(complete);
        Assert.Equal(ResultsFile.Load(smoke.Unsharded).Runs.Select(Key), whole.Runs.Select(Key));
        Assert.Equal([0, 1, 2], whole.MergedFrom!.Select(m => m.Shard!.Index));
    }

    /// <summary>A task killed before its first run finished leaves its results file with the plan and no runs: merge names them.</summary>
    [Fact]
    public void AShardKilledBeforeItsFirstRunIsNamed()
    {
        string killed = Temp("killed");
        Directory.CreateDirectory(killed);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(smoke.Shards[1], "results.json")))!.AsObject();
        json["runs"] = new JsonArray();
        File.WriteAllText(Path.Combine(killed, "results.json"), json.ToJsonString());
        var result = Cli("merge", smoke.Shards[0], killed, smoke.Shards[2], "--out", Temp("merged"));
        AssertOneLineError(result, [Missing, .. ShardRuns(1), "(shard 1/3)"]);
    }

    [Fact]
    public void ARunTwiceIsAnError()
    {
        string copy = Temp("copy");
        Directory.CreateDirectory(copy);
        File.Copy(Path.Combine(smoke.Shards[1], "results.json"), Path.Combine(copy, "results.json"));
        var result = Cli("merge", smoke.Shards[0], smoke.Shards[1], copy, smoke.Shards[2], "--out", Temp("merged"));
        AssertOneLineError(result, ShardRuns(1).First() + " is in both", Path.Combine(copy, "results.json"), "merge each shard once");
        Assert.Equal(1, result.Code);
        Assert.False(Directory.Exists(Temp("merged")));
    }

    [Fact]
    public void ShardsOfDifferentSuiteFilesAreAnError()
    {
        var result = Cli("merge", smoke.Shards[0], smoke.Shards[1], smoke.OtherSuiteShard2, "--out", Temp("merged"));
        AssertOneLineError(result, Path.Combine(smoke.OtherSuiteShard2, "results.json"), "other.json", "quick.json", "only shards of one suite file merge");
        Assert.Equal(1, result.Code);
        Assert.False(Directory.Exists(Temp("merged")));
    }

    [Fact]
    public void ShardsOfDifferentBackendsAreAnError()
    {
        var result = Cli("merge", smoke.Shards[0], smoke.Shards[1], smoke.OtherBackendsShard2, "--out", Temp("merged"));
        AssertOneLineError(result, "plans other runs", $"({Runs / 2} against {Runs})", "different --backends");
        Assert.False(Directory.Exists(Temp("merged")));
    }

    [Fact]
    public void AFolderThatIsNotAResultsFolderIsAnError()
    {
        string empty = Temp("empty");
        Directory.CreateDirectory(empty);
        var result = Cli("merge", smoke.Shards[0], empty, "--out", Temp("merged"));
        AssertOneLineError(result, $"{empty}: not a results folder: it has no results.json");
        Assert.Equal(1, result.Code);

        AssertOneLineError(Cli("merge", smoke.Shards[0], Temp("nope"), "--out", Temp("merged")), $"{Temp("nope")}: not found, expected a results folder");
        AssertOneLineError(Cli("merge", smoke.Shards[0], smoke.SuiteFile, "--out", Temp("merged")), smoke.SuiteFile, "not a KernelLab result file");
        // A results file of a kernellab from before merge: no suite hash to check it by.
        string old = Path.Combine(AppContext.BaseDirectory, "fixtures", "results", "sample-results.json");
        AssertOneLineError(Cli("merge", old, "--out", Temp("merged")), old, "settings.suite_sha256");
        Assert.False(Directory.Exists(Temp("merged")));
    }

    [Fact]
    public void ANullPlanEntryIsAnError()
    {
        string broken = Temp("broken");
        Directory.CreateDirectory(broken);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(smoke.Shards[0], "results.json")))!.AsObject();
        json["plan"]!.AsArray()[3] = null;
        File.WriteAllText(Path.Combine(broken, "results.json"), json.ToJsonString());
        AssertOneLineError(Cli("merge", broken, smoke.Shards[1], "--out", Temp("merged")), "'plan[3]' is null, expected an object");
    }

    [Fact]
    public void TheOutputIsNotOneOfTheInputs()
    {
        var result = Cli("merge", smoke.Shards[0], smoke.Shards[1], "--out", smoke.Shards[1]);
        AssertOneLineError(result, "--out", "one of the folders being merged");
    }

    [Fact]
    public void NoFoldersOrNoOutIsAMalformedCommandLine()
    {
        Assert.Equal(2, Cli("merge", "--out", Temp("merged")).Code);
        Assert.Equal(2, Cli("merge", smoke.Shards[0]).Code);
    }

    /// <summary>The report's machine table: one row per kind of machine, with its hosts.</summary>
    [Fact]
    public void TheReportListsEachMachineOnceWithItsHosts()
    {
        string merged = Temp("merged");
        Assert.Equal(0, Cli(["merge", .. smoke.Shards, "--out", merged]).Code);
        var document = ResultsFile.Load(merged);
        string[] hosts = ["node-a", "node-b", "gpu-node"];
        document = document with
        {
            MergedFrom = document.MergedFrom!.Select((m, i) => m with
            {
                Machine = m.Machine with { Host = hosts[i], Cpu = i == 2 ? "Other CPU" : m.Machine.Cpu, PeakGflops = 10 + i },
            }).ToList(),
        };
        new Report([(merged, document)]).WriteTo(Temp("report"));
        string markdown = File.ReadAllText(Path.Combine(Temp("report"), "report.md"));
        string table = markdown[markdown.IndexOf("## Machine", StringComparison.Ordinal)..];
        var rows = table.Split('\n').Where(l => l.StartsWith($"| {merged} |", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Contains("| node-a, node-b |", rows[0]);
        Assert.Contains("| 10.0 to 11.0 |", rows[0]);
        Assert.Contains("| gpu-node |", rows[1]);
        Assert.Contains("| Other CPU |", rows[1]);
    }
}
