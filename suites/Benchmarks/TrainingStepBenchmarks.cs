using System.Text.Json;
using BenchmarkDotNet.Attributes;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Networks;
using KernelLab.Models.Training;

namespace KernelLab.Benchmarks;

/// <summary>
/// One training step (forward, backward, AdamW) of each standard workload of suites/standard.json at its full batch,
/// on every available backend, with seeded parameters and a seeded synthetic batch. The float64 scalar reference runs
/// the mlp only: a cnn, lstm or transformer step takes it seconds.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class TrainingStepBenchmarks
{
    private static readonly string SuitePath = Path.Combine(AppContext.BaseDirectory, "suites", "standard.json");

    public static IEnumerable<string> Workloads
    {
        get
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(SuitePath));
            return doc.RootElement.GetProperty("workloads").EnumerateArray().Select(w => w.GetProperty("name").GetString()!).ToList();
        }
    }

    public static IEnumerable<string> Cases =>
        from backend in BenchmarkBackends.Available
        from workload in Workloads
        where backend != BenchmarkBackends.Reference || workload == "mlp"
        select $"{backend}/{workload}";

    private Backend _backend = null!;
    private Network _network = null!;
    private Optimizer _optimizer = null!;

    /// <summary>backend/workload.</summary>
    [ParamsSource(nameof(Cases))]
    public string Case { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var parts = Case.Split('/');
        _backend = BackendRegistry.Create(parts[0]);
        using var doc = JsonDocument.Parse(File.ReadAllText(SuitePath));
        var suite = doc.RootElement;
        var w = suite.GetProperty("workloads").EnumerateArray().Single(w => w.GetProperty("name").GetString() == parts[1]);
        var config = ModelConfig.Parse(w.GetProperty("model"), SuitePath);
        var shape = new BatchShape(w.GetProperty("batch").GetInt32(), w.TryGetProperty("seq", out var t) ? t.GetInt32() : 1);
        _network = Network.Create(_backend, config, shape);
        _network.Parameters.Initialize(seed: 1);
        _network.LoadBatch(Batch.Synthetic(config, shape, seed: 2));
        _optimizer = new Optimizer(_backend, _network.Parameters.All, Optimizer.ParseSettings(suite.GetProperty("optimizer"), SuitePath));
    }

    [Benchmark]
    public double TrainingStep()
    {
        double loss = _network.ComputeGradients();
        _optimizer.Step();
        _backend.Synchronize();
        return loss;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _optimizer.Dispose();
        _network.Dispose();
        _backend.Dispose();
    }
}
