using KernelLab.Backends.CpuSimd;
using KernelLab.Backends.Cuda;
using KernelLab.Backends.Ilgpu;
using KernelLab.Backends.OpenCL;
using KernelLab.Backends.Reference;

namespace KernelLab.Backends;

/// <summary>Whether a backend can run on this machine, and if not, why.</summary>
public readonly record struct Availability(bool IsAvailable, string? Reason)
{
    public static Availability Yes => new(true, null);

    public static Availability No(string reason) => new(false, reason);
}

/// <summary>One backend: its name, how to tell whether it can run here (never throws), and how to create it.</summary>
public sealed record BackendEntry(string Name, string Description, Func<Availability> Probe, Func<Backend> Create)
{
    /// <summary>Creates the backend on a named device (<c>--device</c>), for backends with a choice of device; null for the rest.</summary>
    public Func<string, Backend>? CreateOnDevice { get; init; }

    /// <summary>
    /// For backends that compile kernel sources at run time: a checker that builds them all (<c>kernellab kernels check</c>),
    /// on the named device where the backend has a choice; null for the rest.
    /// </summary>
    public Func<string?, IKernelSourceChecker>? KernelSources { get; init; }
}

/// <summary>
/// The one list of backends. The CLI, the tests and the benchmarks all read it; a new backend is one entry here.
/// </summary>
public static class BackendRegistry
{
    public static IReadOnlyList<BackendEntry> All { get; } =
    [
        new("reference", "plain scalar C#, float64: the specification", () => Availability.Yes, () => new ReferenceBackend()),
        // Always available: every kernel has Vector128 and scalar fallbacks for CPUs without AVX2.
        new("cpu-simd", "Vector256/Vector128 with FMA, packed SGEMM, multi-threaded (KERNELLAB_THREADS), float32", () => Availability.Yes, () => new CpuSimdBackend()),
        new("opencl", "OpenCL C kernels through libOpenCL.so.1", Probe(OpenClDevices.UnavailableReason), () => new OpenClBackend())
        {
            CreateOnDevice = device => new OpenClBackend(device),
            KernelSources = device => (OpenClBackend)Create("opencl", device),
        },
        new(CudaBackend.RegistryName, "CUDA C kernels through the driver API and NVRTC", Probe(CudaBackend.UnavailableReason), () => new CudaBackend())
        {
            KernelSources = _ => new CudaKernelChecker(),
        },
        new(IlgpuBackend.RegistryName, "ILGPU kernels written in C# (Cuda accelerator on an NVIDIA GPU, else the CPU accelerator)", Probe(IlgpuDevices.UnavailableReason), () => new IlgpuBackend())
        {
            CreateOnDevice = device => new IlgpuBackend(device),
        },
    ];

    // A backend whose implementation has not landed yet: listed, so that the registry shows the whole plan, but never created.
    private const string NotBuilt = "not implemented in this build yet";

    public static IEnumerable<string> Names => All.Select(e => e.Name);

    /// <summary>The entry named <paramref name="name"/>, or a one-line error listing the known names.</summary>
    public static BackendEntry Find(string name) =>
        All.FirstOrDefault(e => e.Name == name)
        ?? throw new KernelLabException($"unknown backend '{name}': expected one of {string.Join(", ", Names)}");

    /// <summary>
    /// Creates the backend, on <paramref name="device"/> when given, or throws <see cref="BackendUnavailableException"/>
    /// with the reason it cannot run here.
    /// </summary>
    public static Backend Create(string name, string? device = null)
    {
        var entry = Find(name);
        var availability = entry.Probe();
        if (!availability.IsAvailable)
            throw new BackendUnavailableException(name, availability.Reason!);
        if (device is null)
            return entry.Create();
        return entry.CreateOnDevice is { } create
            ? create(device)
            : throw new KernelLabException($"--device {device}: backend '{name}' has no choice of device");
    }

    /// <summary>A probe from a check that returns null when the backend can run, else the reason.</summary>
    private static Func<Availability> Probe(Func<string?> unavailableReason) =>
        () => unavailableReason() is { } reason ? Availability.No(reason) : Availability.Yes;

    private static BackendEntry Unavailable(string name, string description, string reason) =>
        new(name, description, () => Availability.No(reason), () => throw new BackendUnavailableException(name, reason));
}
