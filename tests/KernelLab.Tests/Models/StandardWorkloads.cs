using KernelLab.Backends;
using KernelLab.Backends.Conformance;
using KernelLab.Models;
using KernelLab.Models.Networks;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>
/// The standard workloads of suites/standard.json, seeded as the suite runs them. The batch is cut to
/// <see cref="TestBatch"/> rows (and T kept) so the reference stays quick.
/// </summary>
public static class StandardWorkloads
{
    private const int TestBatch = 2;
    private static readonly Suite Standard = Suite.Load(Path.Combine(AppContext.BaseDirectory, "suites", "standard.json"));

    public static IEnumerable<string> Names => Standard.Workloads.Select(w => w.Name);

    public static Network Open(Backend backend, string workload)
    {
        var w = Standard.Workloads.Single(x => x.Name == workload);
        return Network.CreateSeeded(backend, w.Model, w.Shape with { Batch = TestBatch }, Standard.Seed);
    }

    /// <summary>The op cases of every standard workload at its full batch, with the suite's optimizer.</summary>
    public static IReadOnlyList<WorkloadOpCase> OpCases() =>
        WorkloadOpCases.For(Standard.Workloads.Select(w => (w.Name, w.Model, w.Shape)), Standard.Optimizer);
}
