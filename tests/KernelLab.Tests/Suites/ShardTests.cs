using KernelLab.Results;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>
/// <c>kernellab run --shard I/N</c>: the suite's runs in one fixed order, each in exactly one shard, the shards even and
/// each backend spread over them; <c>--shard</c> and the Slurm array variables, and every malformed value.
/// </summary>
public sealed class ShardTests : SuiteTestBase
{
    private static IReadOnlyList<PlannedRun> Plan(params string[] backends) =>
        Suite.Load(Bundled("smoke")).Runs(backends).Select(r => r.Planned).ToList();

    [Fact]
    public void RunsAreNumberedWorkloadsThenBackends()
    {
        var runs = Suite.Load(Bundled("smoke")).Runs(["reference", "cpu-simd"]);
        Assert.Equal(Enumerable.Range(0, 16), runs.Select(r => r.Position));
        Assert.Equal(
            ["mlp/reference", "mlp/cpu-simd", "cnn/reference", "cnn/cpu-simd", "lstm/reference", "lstm/cpu-simd", "transformer/reference", "transformer/cpu-simd",
             "gru/reference", "gru/cpu-simd", "mlp-regularised/reference", "mlp-regularised/cpu-simd", "cnn-regularised/reference", "cnn-regularised/cpu-simd",
             "transformer-dropout/reference", "transformer-dropout/cpu-simd"],
            runs.Select(r => $"{r.Workload.Name}/{r.Backend}"));
        Assert.All(runs, r => Assert.Equal(1UL, r.Seed));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(20)]
    [InlineData(21)]
    public void EveryRunIsInExactlyOneShard_TheShardsAreEven_AndEachBackendIsSpread(int count)
    {
        foreach (var plan in new[] { Plan("reference"), Plan("reference", "cpu-simd"), Plan("reference", "cpu-simd", "opencl", "cuda", "ilgpu") })
        {
            int[] shardOf = Shard.Assign(plan, count);
            Assert.Equal(plan.Count, shardOf.Length);
            Assert.All(shardOf, s => Assert.InRange(s, 0, count - 1));
            var sizes = Enumerable.Range(0, count).Select(i => shardOf.Count(s => s == i)).ToList();
            Assert.True(sizes.Max() - sizes.Min() <= 1, $"{count} shards of {plan.Count} runs: sizes {string.Join(", ", sizes)}");
            foreach (string backend in plan.Select(r => r.Backend).Distinct())
            {
                var perShard = Enumerable.Range(0, count).Select(i => Enumerable.Range(0, plan.Count).Count(p => plan[p].Backend == backend && shardOf[p] == i)).ToList();
                Assert.True(perShard.Max() - perShard.Min() <= 1, $"{backend} over {count} shards: {string.Join(", ", perShard)}");
            }
            Assert.Equal(shardOf, Shard.Assign(plan, count)); // fixed: the same on every machine
        }
    }

    [Fact]
    public void TheDealIsPinned()
    {
        // Backend by backend: the reference's eight runs to shards 0, 1, 2, 0, 1, 2, 0, 1, then cpu-simd's to 2, 0, 1, 2, 0, 1, 2, 0.
        Assert.Equal([0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0], Shard.Assign(Plan("reference", "cpu-simd"), 3));
        // With as many shards as backends, each shard still gets a run of every backend.
        int[] four = Shard.Assign(Plan("reference", "cpu-simd", "opencl", "ilgpu"), 4);
        Assert.All(Enumerable.Range(0, 4), i => Assert.Equal(4, Enumerable.Range(0, four.Length).Where(p => four[p] == i).Select(p => p % 4).Distinct().Count()));
    }

    [Fact]
    public void ShardsOfARunTogetherAreTheUnshardedRunsInTheirOrder()
    {
        var suite = Suite.Load(QuickSmoke());
        string[] backends = ["reference", "cpu-simd"];
        var whole = Runner(suite, backends, "whole", null).Run(TestContext.Current.CancellationToken);
        var shards = Enumerable.Range(0, 3).Select(i => Runner(suite, backends, $"shard-{i}", new Shard(i, 3)).Run(TestContext.Current.CancellationToken)).ToList();

        var key = (RunRecord r) => (r.Workload, r.Backend, r.Seed);
        Assert.Equal(whole.Runs.Select(key).Order(), shards.SelectMany(s => s.Runs).Select(key).Order());
        Assert.Equal(2 * SmokeWorkloads, shards.SelectMany(s => s.Runs).Select(key).Distinct().Count());
        var order = whole.Runs.Select(key).ToList();
        foreach (var (shard, i) in shards.Select((s, i) => (s, i)))
        {
            Assert.Equal(new Shard(i, 3), shard.Shard);
            Assert.Equal(whole.Plan, shard.Plan);
            Assert.Equal(shard.Runs.Select(key).OrderBy(order.IndexOf), shard.Runs.Select(key)); // in the plan's order
            Assert.Equal(whole.Settings!.SuiteSha256, shard.Settings!.SuiteSha256);
            Assert.All(shard.Runs, r => Assert.Equal(Environment.MachineName, r.Host));
        }
        Assert.Null(whole.Shard);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(suite.Source))), whole.Settings!.SuiteSha256);
        Assert.Equal(Environment.MachineName, whole.Machine.Host);
    }

    /// <summary>More shards than runs: the extra shards run nothing, and say so in a results file of their own.</summary>
    [Fact]
    public void AShardWithNoRunsWritesItsPlanAndNoRuns()
    {
        var suite = Suite.Load(QuickSmoke());
        var document = Runner(suite, ["reference"], "empty", new Shard(SmokeWorkloads, SmokeWorkloads + 1)).Run(TestContext.Current.CancellationToken);
        Assert.Empty(document.Runs);
        Assert.Equal(SmokeWorkloads, ResultsFile.Load(Temp("empty")).Plan!.Count);
    }

    private SuiteRunner Runner(Suite suite, string[] backends, string folder, Shard? shard) =>
        new(suite, backends, Temp(folder), new QuietObserver()) { ProbePeaks = false, Shard = shard };

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("2/3", 2, 3)]
    [InlineData("15/16", 15, 16)]
    public void ParsesIOfN(string text, int index, int count) =>
        Assert.Equal(new Shard(index, count), Sharding.Parse(text, out _));

    [Theory]
    [InlineData("3/3", "shard 3 of 3 does not exist")]
    [InlineData("0/0", "shard 0 of 0 does not exist")]
    [InlineData("1", "expected I/N")]
    [InlineData("1/2/3", "expected I/N")]
    [InlineData("a/b", "expected I/N")]
    [InlineData(" 1/2", "expected I/N")]
    [InlineData("1/99999999999", "expected I/N")]
    public void RejectsABadShard(string text, string expected)
    {
        Assert.Null(Sharding.Parse(text, out string? error));
        Assert.Contains(expected, error);
        var result = Cli("run", QuickSmoke(), "--backends", "reference", "--shard", text, "--out", Temp("never"));
        AssertOneLineError(result, "--shard", expected);
        Assert.Equal(2, result.Code);
        Assert.False(Directory.Exists(Temp("never")));
    }

    [Fact]
    public void ANegativeShardIsNotOne() => Assert.Null(Sharding.Parse("-1/3", out _));

    [Fact]
    public void MissingShardValueIsAMalformedCommandLine()
    {
        var result = Cli("run", QuickSmoke(), "--shard");
        Assert.Equal(2, result.Code);
        AssertOneLineError(result, "--shard");
    }

    [Theory]
    [InlineData(null, null, null, null, null)]          // not an array job
    [InlineData("0", "3", "0", null, "0/3")]
    [InlineData("2", "3", "0", "1", "2/3")]
    [InlineData("1", "4", "1", null, "0/4")]            // --array=1-4
    [InlineData("4", "4", "1", null, "3/4")]
    [InlineData("6", "4", "0", "2", "3/4")]             // --array=0-6:2
    [InlineData("0", "1", null, null, "0/1")]
    public void TakesTheShardFromTheSlurmArray(string? id, string? count, string? min, string? step, string? expected)
    {
        var shard = Sharding.FromSlurm(Variables(id, count, min, step), out string? error);
        Assert.Null(error);
        Assert.Equal(expected, shard?.ToString());
    }

    [Theory]
    [InlineData("3", "3", "0", null, "SLURM_ARRAY_TASK_ID 3 is not one of 3 array tasks from 0 in steps of 1")]
    [InlineData("0", "3", "1", null, "SLURM_ARRAY_TASK_ID 0 is not one of 3 array tasks from 1")]
    [InlineData("3", "4", "0", "2", "SLURM_ARRAY_TASK_ID 3 is not one of 4 array tasks from 0 in steps of 2")]
    [InlineData("2", null, null, null, "SLURM_ARRAY_TASK_COUNT is not set")]
    [InlineData("x", "3", null, null, "expected integers")]
    [InlineData("1", "0", null, null, "expected integers")]
    public void RejectsASlurmArrayItCannotPlace(string? id, string? count, string? min, string? step, string expected)
    {
        Assert.Null(Sharding.FromSlurm(Variables(id, count, min, step), out string? error));
        Assert.Contains(expected, error);
    }

    private static Func<string, string?> Variables(string? id, string? count, string? min, string? step) => name => name switch
    {
        Sharding.TaskId => id,
        Sharding.TaskCount => count,
        Sharding.TaskMin => min,
        Sharding.TaskStep => step,
        _ => null,
    };

    /// <summary>kernellab itself (a process of its own, so that its environment is the array task's): task 3 of an array from 2 is shard 1 of 2.</summary>
    [Fact]
    public async Task RunTakesItsShardFromTheSlurmVariables()
    {
        var (exitCode, stdout, stderr) = await KernellabProcess.RunAsync(["run", QuickSmoke(), "--backends", "reference", "--out", Temp("task")],
            new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "3", ["SLURM_ARRAY_TASK_MIN"] = "2", ["SLURM_ARRAY_TASK_COUNT"] = "2", ["SLURM_ARRAY_JOB_ID"] = "41" });
        Assert.True(exitCode == 0, stderr);
        Assert.Contains("shard 1/2 (4 of 8 runs)", stdout);
        var results = ResultsFile.Load(Temp("task"));
        Assert.Equal(new Shard(1, 2), results.Shard);
        Assert.Equal(["cnn", "transformer", "mlp-regularised", "transformer-dropout"], results.Runs.Select(r => r.Workload));
        Assert.Equal("41_3", results.Machine.SlurmJob);
    }

    [Fact]
    public void RecordsWhichGpusCudaVisibleDevicesNames()
    {
        const string csv = "NVIDIA H200, 570.1, 143771, 0, GPU-0a1b\nNVIDIA H200, 570.1, 143771, 1, GPU-2c3d\nNVIDIA H200, 570.1, 143771, 2, GPU-4e5f\n";
        Assert.All(MachineProbe.ParseNvidiaSmi(csv, null), g => Assert.Null(g.Visible));
        Assert.Equal([false, true, false], MachineProbe.ParseNvidiaSmi(csv, "1").Select(g => g.Visible!.Value));
        Assert.Equal([true, false, true], MachineProbe.ParseNvidiaSmi(csv, "GPU-4e,0").Select(g => g.Visible!.Value));
        var gpu = MachineProbe.ParseNvidiaSmi(csv, "")[2];
        Assert.Equal(("NVIDIA H200", "570.1", 143771.0, 2, "GPU-4e5f"), (gpu.Name, gpu.Driver, gpu.MemoryMib, gpu.Index, gpu.Uuid));
    }
}
