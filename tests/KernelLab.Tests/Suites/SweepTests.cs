using System.Text.Json.Nodes;
using KernelLab.Results;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>
/// A workload's "batch" and "threads" lists (sweeps): one run per value, in the file's order, each recorded with its value.
/// A bad list is one line naming the suite file and the field, before anything runs (SuiteFileTests' bad suites).
/// </summary>
public sealed class SweepTests : SuiteTestBase
{
    [Fact]
    public void BatchListIsOneWorkloadPerBatchInOrder()
    {
        var suite = Suite.Load(SmokeWith(j => j["workloads"]![0]!["batch"] = new JsonArray(2, 4, 8)));
        Assert.Equal(SmokeWorkloads + 2, suite.Workloads.Count);
        var mlp = suite.Workloads.Where(w => w.Name == "mlp").ToList();
        Assert.Equal([2, 4, 8], mlp.Select(w => w.Batch));
        Assert.Equal(["mlp batch=2", "mlp batch=4", "mlp batch=8"], mlp.Select(w => w.Label));
        Assert.All(mlp, w => Assert.Null(w.Threads));
        Assert.Equal("cnn", suite.Workloads[3].Label); // an unswept workload keeps its name
    }

    [Fact]
    public void ThreadsListNestsInsideTheBatchList()
    {
        var suite = Suite.Load(SmokeWith(j =>
        {
            j["backends"] = new JsonArray("cpu-simd");
            j["workloads"]![0]!["batch"] = new JsonArray(2, 4);
            j["workloads"]![0]!["threads"] = new JsonArray(1, 2);
        }));
        var mlp = suite.Workloads.Where(w => w.Name == "mlp").ToList();
        Assert.Equal([(2, 1), (2, 2), (4, 1), (4, 2)], mlp.Select(w => (w.Batch, w.Threads!.Value)));
        Assert.Equal("mlp batch=4 threads=2", mlp[^1].Label);
    }

    [Fact]
    public void BundledScalingSuiteSweepsTheStandardMlpBatch()
    {
        var suite = Suite.Load(Bundled("scaling"));
        Assert.Equal([16, 32, 64, 128], suite.Workloads.Select(w => w.Batch));
        Assert.All(suite.Workloads, w => Assert.Equal("mlp-batch", w.Name));
        var standardMlp = Suite.Load(Bundled("standard")).Workloads[0].Model;
        Assert.All(suite.Workloads, w => Assert.Equal(((KernelLab.Models.MlpConfig)standardMlp).Sizes, ((KernelLab.Models.MlpConfig)w.Model).Sizes));
    }

    [Fact]
    public void ThreadsWithAGpuBackendOnTheCommandLineIsOneLine()
    {
        string suite = SmokeWith(j => CpuOnly(j, new JsonArray(1, 2)));
        AssertOneLineError(Cli("run", suite, "--backends", "cpu-simd,opencl", "--out", Temp("out")), "--backends", suite, "backend 'opencl' does not run on host threads");
        Assert.False(Directory.Exists(Temp("out")));
    }

    [Fact]
    public void EachSweepValueIsOneRunRecordedWithItsValue()
    {
        string suite = SmokeWith(j =>
        {
            Quick(j);
            j["backends"] = new JsonArray("cpu-simd");
            j["workloads"] = new JsonArray(JsonNode.Parse(j["workloads"]![0]!.ToJsonString()));
            j["workloads"]![0]!["batch"] = new JsonArray(2, 3);
            j["workloads"]![0]!["threads"] = new JsonArray(1, 2);
        });
        string outDir = Temp("out");
        var (code, stdout, stderr) = Cli("run", suite, "--out", outDir);
        Assert.True(code == 0, stderr);
        Assert.Contains("mlp batch=3 threads=2 cpu-simd   ok", stdout);
        var runs = ResultsFile.Load(outDir).Runs;
        Assert.Equal([(2, 1), (2, 2), (3, 1), (3, 2)], runs.Select(r => (r.Batch!.Value, r.Threads!.Value)));
        Assert.All(runs, r => Assert.Equal("ok", r.Status));
        Assert.All(runs, r => Assert.Contains($"{r.Threads} threads", r.Device));
        Assert.All(runs, r => Assert.Equal(r.Batch!.Value / (r.Throughput!.StepMsMedian / 1e3), r.Throughput.SamplesPerSecond, 6));
        var label = RunRecord.Labels(runs);
        Assert.Equal(["mlp batch=2 threads=1", "mlp batch=2 threads=2", "mlp batch=3 threads=1", "mlp batch=3 threads=2"], runs.Select(label));
    }

    [Fact]
    public void OlderRunsWithoutThreadsStillLoadAndKeepTheirNames()
    {
        var runs = ResultsFile.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "results", "sample-results.json")).Runs;
        Assert.All(runs, r => Assert.Null(r.Threads));
        var label = RunRecord.Labels(runs);
        Assert.All(runs, r => Assert.Equal(r.Workload, label(r)));
    }

    /// <summary>A threads list on the first workload, with cpu-simd as the suite's only backend.</summary>
    internal static void CpuOnly(JsonObject suite, JsonNode threads)
    {
        suite["backends"] = new JsonArray("cpu-simd");
        suite["workloads"]![0]!["threads"] = threads;
    }
}
