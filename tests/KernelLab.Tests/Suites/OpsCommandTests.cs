using System.Text.Json;
using KernelLab.Backends;

namespace KernelLab.Tests;

/// <summary>kernellab ops: every op case of a suite's shapes checked and timed, a table and a JSON file.</summary>
public sealed class OpsCommandTests : SuiteTestBase
{
    [Fact]
    public void SmokeShapesOnTheReference()
    {
        string json = Temp("ops.json");
        var (code, stdout, stderr) = Cli("ops", "--backend", "reference", "--shapes", Bundled("smoke"), "--out", json, "--warmup", "0");
        Assert.True(code == 0, stderr);
        Assert.Contains("ops match the reference", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var ops = doc.RootElement.GetProperty("ops").EnumerateArray().ToList();
        var names = ops.Select(o => o.GetProperty("op").GetString()).ToHashSet();
        foreach (string op in new[] { "gemm", "bias", "Relu", "conv2d", "maxpool", "embedding", "lstm", "layernorm", "attention", "GeluTanh in place", "add", "add into a", "softmax cross-entropy", "AdamW step over tensors" })
            Assert.Contains(op, names);
        Assert.All(ops, o =>
        {
            Assert.True(o.GetProperty("passed").GetBoolean());
            Assert.True(o.GetProperty("median_ms").GetDouble() >= 0);
            Assert.True(o.GetProperty("repeats").GetInt32() >= 5);
            Assert.True(o.GetProperty("runs_per_step").GetDouble() > 0);
        });
        // Each case once per workload, and each workload's ops added up over its step.
        Assert.Equal(ops.Count, ops.Select(o => (o.GetProperty("workload").GetString(), o.GetProperty("op").GetString(), o.GetProperty("shape").GetString())).Distinct().Count());
        foreach (string workload in ops.Select(o => o.GetProperty("workload").GetString()!).Distinct())
            Assert.Contains($"{workload,-12} one step's ops add up to", stdout);
    }

    [Fact]
    public void WorkloadsAndOpsNarrowTheCases()
    {
        var (code, stdout, stderr) = Cli("ops", "--backend", "reference", "--shapes", Bundled("smoke"), "--workloads", "lstm, mlp", "--op", "gemm,lstm", "--warmup", "0");
        Assert.True(code == 0, stderr);
        var rows = stdout.Split('\n').Where(l => l.StartsWith("lstm ") || l.StartsWith("mlp ") || l.StartsWith("cnn ")).ToList();
        Assert.Contains(rows, l => l.StartsWith("lstm") && l.Contains(" lstm "));
        Assert.Contains(rows, l => l.StartsWith("mlp") && l.Contains(" gemm "));
        Assert.All(rows, l => Assert.Matches(@"^(lstm|mlp)\s+(gemm|lstm)\s", l));
        Assert.DoesNotContain("one step's ops add up to", stdout); // a sum of some of a step's ops is not where its time goes
        Assert.Contains($"{rows.Count} of {rows.Count} ops match the reference", stdout);
    }

    [Fact]
    public void AnOpNoCaseHasIsOneLine()
    {
        AssertOneLineError(Cli("ops", "--backend", "reference", "--shapes", Bundled("smoke"), "--op", "gemm,conv3d"), "--op: no op case of the suite");
        AssertOneLineError(Cli("ops", "--backend", "reference", "--shapes", Bundled("smoke"), "--op", " , "), "--op: no op named");
        AssertOneLineError(Cli("ops", "--backend", "reference", "--shapes", Bundled("smoke"), "--workloads", "rnn"), "--workloads: the suite");
    }

    [Fact]
    public void UnavailableBackendIsOneLine()
    {
        var unavailable = BackendRegistry.All.FirstOrDefault(e => !e.Probe().IsAvailable);
        if (unavailable is null)
            Assert.Skip("every backend is available here");
        AssertOneLineError(Cli("ops", "--backend", unavailable.Name, "--shapes", Bundled("smoke")), $"backend '{unavailable.Name}' is unavailable");
    }
}
