using KernelLab.Backends.CpuSimd;
using KernelLab.Backends.Cuda;
using KernelLab.Backends.Ilgpu;
using KernelLab.Backends.OpenCL;
using KernelLab.Backends.Reference;

namespace KernelLab.Backends;

/// <summary>
/// The one list of backends, each declared by its own project (<see cref="BackendEntry"/>). The CLI, the tests, the
/// suites and the benchmarks all read it; a new backend is one line here.
/// </summary>
public static class BackendRegistry
{
    public static IReadOnlyList<BackendEntry> All { get; } =
        [ReferenceBackend.Entry, CpuSimdBackend.Entry, OpenClBackend.Entry, CudaBackend.Entry, IlgpuBackend.Entry];

    public static IEnumerable<string> Names => All.Select(e => e.Name);

    /// <summary>The entry named <paramref name="name"/>, or a one-line error listing the known names.</summary>
    public static BackendEntry Find(string name) =>
        All.FirstOrDefault(e => e.Name == name)
        ?? throw new KernelLabException($"unknown backend '{name}': expected one of {string.Join(", ", Names)}");

    /// <summary>
    /// Creates the backend, on <paramref name="device"/> when given, or throws <see cref="BackendUnavailableException"/>
    /// with the reason it cannot run here. A backend without a choice of device takes the id of its one device.
    /// </summary>
    public static Backend Create(string name, string? device = null)
    {
        var entry = Find(name);
        var availability = entry.Probe();
        if (!availability.IsAvailable)
            throw new BackendUnavailableException(name, availability.Reason!);
        if (device is null)
            return entry.Create();
        if (entry.CreateOnDevice is { } create)
            return create(device);
        var ids = entry.Devices().Select(d => d.Id).ToList();
        return ids.Contains(device)
            ? entry.Create()
            : throw new KernelLabException($"--device '{device}': backend '{name}' has no choice of device, only {string.Join(", ", ids.Select(id => $"'{id}'"))}");
    }
}
