using BenchmarkDotNet.Attributes;
using KernelLab.Backends;
using KernelLab.Models.Networks;
using KernelLab.Models.Training;
using KernelLab.Suites;

namespace KernelLab.Benchmarks;

/// <summary>
/// One training step (forward, backward, AdamW) of each standard workload of suites/standard.json at its full batch,
/// on every available backend, with seeded parameters and a seeded synthetic batch: the step that <c>kernellab run</c>
/// times (<see cref="Suite.CreateSeededNetwork"/>, <see cref="Suite.CreateOptimizer"/>), timed here by BenchmarkDotNet.
/// The float64 scalar reference runs the mlp only: a cnn, lstm or transformer step takes it seconds.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class TrainingStepBenchmarks
{
    private static readonly string SuitePath = Path.Combine(AppContext.BaseDirectory, "suites", "standard.json");

    private static readonly Suite Standard = Suite.Load(SuitePath);

    public static IEnumerable<string> Workloads => Standard.Workloads.Select(w => w.Name);

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
        var workload = Standard.Workloads.Single(w => w.Name == parts[1]);
        _network = Standard.CreateSeededNetwork(_backend, workload, Standard.Seed);
        _optimizer = Standard.CreateOptimizer(_backend, _network);
    }

    [Benchmark]
    public double TrainingStep()
    {
        double loss = _optimizer.Step(_network);
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
