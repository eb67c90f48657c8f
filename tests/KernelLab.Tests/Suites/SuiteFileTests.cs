using System.Text.Json.Nodes;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>Suite files (shared/spec/SUITES.md): the bundled ones load, and a bad one fails before anything runs, in one line, writing nothing.</summary>
public sealed class SuiteFileTests : SuiteTestBase
{
    [Theory]
    [InlineData("smoke", 8)]
    [InlineData("standard", 4)]
    [InlineData("large", 4)]
    public void BundledSuitesLoad(string name, int workloads)
    {
        var suite = Suite.Load(Bundled(name));
        Assert.Equal(name, suite.Name);
        Assert.Equal(workloads, suite.Workloads.Count);
        string[] families = ["mlp", "cnn", "lstm", "transformer"];
        // smoke also holds the gru family and the training blocks (MODELS.md, "Training blocks").
        Assert.Equal(name == "smoke" ? [.. families, "gru", "mlp", "cnn", "transformer"] : families, suite.Workloads.Select(w => w.Model.Family));
        Assert.All(suite.Workloads.Where(w => w.Model.IsSequence), w => Assert.NotNull(w.Seq));
    }

    [Fact]
    public void StandardSuiteHoldsModelsStandardWorkloads()
    {
        var suite = Suite.Load(Bundled("standard"));
        Assert.Equal(["reference", "cpu-simd", "opencl", "cuda", "ilgpu"], suite.Backends);
        Assert.Equal("ilgpu", Assert.Single(suite.SkipDevices).Backend);
        Assert.Equal((3, 10, 2.0), (suite.WarmupSteps, suite.MinSteps, suite.MinSeconds));
        Assert.Equal([64, 64, 32, 16], suite.Workloads.Select(w => w.Batch));
        Assert.Equal([null, null, 32, 64], suite.Workloads.Select(w => w.Seq));
        Assert.Equal(OptimizerKind.AdamW, suite.Optimizer.Kind);
    }

    public static TheoryData<string, string[]> BadSuites => new()
    {
        { "{\"name\": \"x\",", ["invalid JSON"] },
        { "[1, 2]", ["expected a JSON object"] },
        { Edit(j => j["workloads"]![0]!["model"]!["family"] = "rnn"), ["workloads[0] ('mlp')", "unknown family 'rnn'"] },
        { Edit(j => j["backends"] = new JsonArray("reference", "tpu")), ["'backends'", "unknown backend 'tpu'"] },
        { Edit(j => j["workloads"]![2]!.AsObject().Remove("seq")), ["workloads[2] ('lstm')", "'seq' is missing"] },
        { Edit(j => j["workloads"]![3]!.AsObject().Remove("seq")), ["workloads[3] ('transformer')", "'seq' is missing"] },
        { Edit(j => j["workloads"]![3]!["seq"] = 9), ["'seq' 9 is more than the model's context 8"] },
        { Edit(j => j["workloads"]![0]!["batch"] = 0), ["workloads[0] ('mlp')", "'batch' is 0, expected a positive integer"] },
        { Edit(j => j["workloads"]![1]!["batch"] = -3), ["workloads[1] ('cnn')", "'batch' is -3, expected a positive integer"] },
        { Edit(j => j["workloads"]![0]!["model"]!["sizes"] = new JsonArray(4)), ["'sizes' has 1 entries"] },
        { Edit(j => j["workloads"] = new JsonArray()), ["'workloads' must be a non-empty array"] },
        { Edit(j => j["workloads"]![1]!["name"] = "mlp"), ["workload name 'mlp' appears twice"] },
        { Edit(j => j["min_seconds"] = -1), ["'min_seconds' is -1"] },
        { Edit(j => j["warmup_seconds"] = -0.5), ["'warmup_seconds' is -0.5, expected a number >= 0"] },
        { Edit(j => j["warmup_steps"] = -1), ["'warmup_steps' is -1, expected an integer >= 0"] },
        { Edit(j => j["min_steps"] = 0), ["'min_steps' is 0, expected a positive integer"] },
        { Edit(j => j["optimizer"]!["name"] = "lion"), ["unknown optimizer 'lion'"] },
        { Edit(j => j.Remove("optimizer")), ["'optimizer' is missing"] },
        { Edit(j => j["skip_devices"] = 3), ["'skip_devices' must be an array"] },
        { Edit(j => j["skip_devices"] = Skip("{'backend': 'tpu', 'kind': 'cpu', 'reason': 'slow'}")), ["skip_devices[0]", "backend 'tpu' is not in the suite's 'backends'"] },
        { Edit(j => j["skip_devices"] = Skip("{'backend': 'ilgpu', 'kind': 'fpga', 'reason': 'slow'}")), ["skip_devices[0]", "'kind' is \"fpga\", expected one of cpu, gpu, accelerator"] },
        { Edit(j => j["skip_devices"] = Skip("{'backend': 'ilgpu', 'kind': 'cpu', 'reason': ' '}")), ["skip_devices[0]", "'reason' is empty"] },
        { Edit(j => j["skip_devices"] = Skip("{'backend': 'ilgpu', 'kind': 'cpu'}")), ["skip_devices[0]", "'reason' is missing"] },
        // A workload's batch and threads lists (SweepTests).
        { Edit(j => j["workloads"]![0]!["batch"] = new JsonArray()), ["workloads[0] ('mlp')", "'batch' has 0 entries, expected at least 1"] },
        { Edit(j => j["workloads"]![0]!["batch"] = new JsonArray(4, 0)), ["workloads[0] ('mlp')", "'batch[1]' is 0, expected a positive integer"] },
        { Edit(j => j["workloads"]![1]!["batch"] = new JsonArray(2, -8)), ["workloads[1] ('cnn')", "'batch[1]' is -8, expected a positive integer"] },
        { Edit(j => j["workloads"]![0]!["batch"] = new JsonArray(4, 2.5)), ["'batch[1]' is 2.5, expected a positive integer"] },
        { Edit(j => j["workloads"]![0]!["batch"] = new JsonArray(4, 8, 4)), ["workloads[0] ('mlp')", "'batch' lists 4 twice"] },
        { Edit(j => SweepTests.CpuOnly(j, new JsonArray())), ["workloads[0] ('mlp')", "'threads' has 0 entries, expected at least 1"] },
        { Edit(j => SweepTests.CpuOnly(j, new JsonArray(1, 0))), ["'threads[1]' is 0, expected a positive integer"] },
        { Edit(j => SweepTests.CpuOnly(j, "two")), ["'threads' is \"two\", expected a positive integer"] },
        { Edit(j => SweepTests.CpuOnly(j, new JsonArray(2, 2))), ["'threads' lists 2 twice"] },
        { Edit(j => j["workloads"]![0]!["threads"] = new JsonArray(1, 2)), ["'backends'", "backend 'reference' does not run on host threads", "workload 'mlp' gives 'threads'", "cpu-simd"] },
        { Edit(j => { SweepTests.CpuOnly(j, new JsonArray(1, 2)); j["backends"] = new JsonArray("cpu-simd", "cuda"); }), ["backend 'cuda' does not run on host threads"] },
    };

    [Theory]
    [MemberData(nameof(BadSuites))]
    public void BadSuiteFailsInOneLineBeforeAnythingRuns(string text, string[] phrases)
    {
        string path = Temp("bad.json");
        File.WriteAllText(path, text);
        string outDir = Temp("out");
        AssertOneLineError(Cli("run", path, "--out", outDir), [path, .. phrases]);
        Assert.False(Directory.Exists(outDir), "the output folder was created for a bad suite");
    }

    [Fact]
    public void MissingSuiteFile()
    {
        string path = Temp("nope.json");
        AssertOneLineError(Cli("run", path, "--out", Temp("out")), path, "file not found");
        Assert.False(Directory.Exists(Temp("out")));
    }

    [Fact]
    public void UnknownBackendOnTheCommandLine()
    {
        AssertOneLineError(Cli("run", Bundled("smoke"), "--backends", "reference,tpu", "--out", Temp("out")), "--backends", "unknown backend 'tpu'");
        Assert.False(Directory.Exists(Temp("out")));
    }

    // The smoke suite's text with one edit; the JSON objects are rebuilt so that each row is independent.
    /// <summary>A skip_devices array of one entry; single quotes stand for double quotes.</summary>
    private static JsonNode Skip(string entry) => JsonNode.Parse($"[{entry.Replace('\'', '"')}]")!;

    private static string Edit(Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(Bundled("smoke")))!.AsObject();
        edit(json);
        return json.ToJsonString();
    }
}
