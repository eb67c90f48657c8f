using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Networks;

namespace KernelLab.Tests;

/// <summary>
/// The standard workloads' models from suites/standard.json, with seeded parameters and a seeded synthetic
/// batch. The batch is cut to <see cref="TestBatch"/> rows (and T kept) so the reference stays quick.
/// </summary>
public static class StandardWorkloads
{
    private const int TestBatch = 2;
    private static readonly string SuitePath = Path.Combine(AppContext.BaseDirectory, "suites", "standard.json");

    private static readonly Dictionary<string, (ModelConfig Config, int Batch, int Steps)> Workloads = Read();

    public static IEnumerable<string> Names => Workloads.Keys;

    public static Network Open(Backend backend, string workload)
    {
        var (config, _, steps) = Workloads[workload];
        var shape = new BatchShape(TestBatch, steps);
        var network = Network.Create(backend, config, shape);
        network.Parameters.Initialize(seed: 1);
        network.LoadBatch(Batch.Synthetic(config, shape, seed: 2));
        return network;
    }

    /// <summary>The op cases of every standard workload at its full batch, with AdamW as the suite runs it.</summary>
    public static IReadOnlyList<(string Workload, OpCase Case)> OpCases() =>
        WorkloadOpCases.For(
            Workloads.Select(w => (w.Key, w.Value.Config, new BatchShape(w.Value.Batch, w.Value.Steps))),
            OptimizerSettings.Defaults(OptimizerKind.AdamW, 1e-3));

    private static Dictionary<string, (ModelConfig, int, int)> Read()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SuitePath));
        return doc.RootElement.GetProperty("workloads").EnumerateArray().ToDictionary(
            w => w.GetProperty("name").GetString()!,
            w => (ModelConfig.Parse(w.GetProperty("model"), SuitePath), w.GetProperty("batch").GetInt32(),
                w.TryGetProperty("seq", out var t) ? t.GetInt32() : 1));
    }
}
