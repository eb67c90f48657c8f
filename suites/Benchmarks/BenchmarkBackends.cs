using KernelLab.Backends;
using KernelLab.Backends.Reference;

namespace KernelLab.Benchmarks;

/// <summary>The backends the benchmarks run on: every backend of the registry that is available on this machine.</summary>
internal static class BenchmarkBackends
{
    public static string Reference => ReferenceBackend.Entry.Name;

    public static IEnumerable<string> Available => BackendRegistry.All.Where(e => e.Probe().IsAvailable).Select(e => e.Name);
}
