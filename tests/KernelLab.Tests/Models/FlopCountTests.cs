using System.Text.Json;
using KernelLab.Models;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>The counted arithmetic of a training step: the standard workloads match MODELS.md's table, and small cases are worked by hand.</summary>
public sealed class FlopCountTests
{
    [Theory]
    [InlineData("mlp", 42e6)]
    [InlineData("cnn", 470e6)]
    [InlineData("lstm", 0.8e9)]
    [InlineData("transformer", 2.7e9)]
    public void StandardWorkloadsMatchModelsTable(string workload, double table)
    {
        var (config, shape) = Standard(workload);
        double flops = FlopCount.TrainingStep(config, shape);
        Assert.InRange(flops / table, 0.95, 1.05);
    }

    [Fact]
    public void MlpByHand()
    {
        // 2 rows through 3 -> 4 -> 5: (12 + 20) multiply-adds a row, 2 FLOP each, forward + 2x backward.
        var config = new MlpConfig([3, 4, 5]);
        Assert.Equal(2 * 32 * 2 * 3, FlopCount.TrainingStep(config, new BatchShape(2)));
    }

    [Fact]
    public void CnnByHand()
    {
        // conv 1 -> 2, k 3 on 4x4: 2*1*9*16 = 288; pool to 2x2, fc1 8 -> 3: 24; fc2 3 -> 2: 6. One sample.
        var config = new CnnConfig(1, 4, 4, [2], 3, 3, 2);
        Assert.Equal(318.0, FlopCount.ForwardMultiplyAdds(config, new BatchShape(1)));
    }

    [Fact]
    public void AttentionCountsCausalPairs()
    {
        // One layer, d 4, ffn 8, vocab 3, B 1, T 3: products 3*16 + 16 + 2*32 = 128 per token, lm_head 12 per
        // token, and q.k plus p.v over 1 + 2 + 3 = 6 query-key pairs of 4 features: 2 * 4 * 6 = 48.
        var config = new TransformerConfig(3, 8, 4, 2, 1, 8);
        Assert.Equal(3 * 128 + 3 * 12 + 48, FlopCount.ForwardMultiplyAdds(config, new BatchShape(1, 3)));
    }

    /// <summary>tools/flop_count.py, which tools/torch_baseline.py's GFLOP/s come from, counts as FlopCount does, for every workload of every suite.</summary>
    [Theory]
    [InlineData("standard.json")]
    [InlineData("smoke.json")]
    [InlineData("large.json")]
    [InlineData("scaling.json")]
    public void PythonCount_MatchesFlopCount(string suiteFile)
    {
        var suite = Suite.Load(Path.Combine(AppContext.BaseDirectory, "suites", suiteFile));
        var (code, stdout, stderr) = ExternalTool.Run("python3", [Path.Combine(AppContext.BaseDirectory, "tools", "flop_count.py"), suite.Source],
            "install Debian's python3");
        Assert.True(code == 0, stderr);
        var counted = JsonSerializer.Deserialize<List<PythonCount>>(stdout, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!
            .ToDictionary(c => (c.Workload, c.Batch), c => c.Flop);
        var runs = suite.Workloads.DistinctBy(w => (w.Name, w.Batch)).ToList();
        Assert.Equal(runs.Select(w => (w.Name, w.Batch)).Order(), counted.Keys.Order());
        foreach (var w in runs)
        {
            double script = counted[(w.Name, w.Batch)], csharp = FlopCount.TrainingStep(w.Model, w.Shape);
            Assert.True(Math.Abs(script / csharp - 1) < 1e-12, $"{suiteFile} {w.Label}: flop_count.py {script}, FlopCount.cs {csharp}");
        }
    }

    private sealed record PythonCount(string Workload, int Batch, double Flop);

    private static (ModelConfig, BatchShape) Standard(string workload)
    {
        var w = Suite.Load(Path.Combine(AppContext.BaseDirectory, "suites", "standard.json")).Workloads.Single(w => w.Name == workload);
        return (w.Model, w.Shape);
    }
}
