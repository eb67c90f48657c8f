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

    private static readonly Dictionary<string, (ModelConfig Config, int Steps)> Workloads = Read();

    public static IEnumerable<string> Names => Workloads.Keys;

    public static Network Open(Backend backend, string workload)
    {
        var (config, steps) = Workloads[workload];
        var shape = new BatchShape(TestBatch, steps);
        var network = Network.Create(backend, config, shape);
        network.Parameters.Initialize(seed: 1);
        network.LoadBatch(Batch.Synthetic(config, shape, seed: 2));
        return network;
    }

    private static Dictionary<string, (ModelConfig, int)> Read()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SuitePath));
        return doc.RootElement.GetProperty("workloads").EnumerateArray().ToDictionary(
            w => w.GetProperty("name").GetString()!,
            w => (ModelConfig.Parse(w.GetProperty("model"), SuitePath), w.TryGetProperty("seq", out var t) ? t.GetInt32() : 1));
    }
}
