namespace KernelLab.Backends;

/// <summary>Whether a backend or a device can run on this machine, and if not, why.</summary>
public readonly record struct Availability(bool IsAvailable, string? Reason)
{
    public static Availability Yes => new(true, null);

    public static Availability No(string reason) => new(false, reason);

    /// <summary>From a check that returns null when the backend or device can run, else the reason.</summary>
    public static Availability Unless(string? unavailableReason) => unavailableReason is null ? Yes : No(unavailableReason);
}

/// <summary>
/// One device of a backend on this machine: <see cref="Id"/> is what <c>--device</c> takes, <see cref="Kind"/> is
/// cpu, gpu or accelerator. A device can be listed and still be unusable (a driver that reports it unavailable, a
/// missing compiler); <see cref="Availability"/> says why.
/// </summary>
public sealed record BackendDevice(string Id, string Name, string Kind, Availability Availability)
{
    public string? Vendor { get; init; }

    /// <summary>What the backend can say about the device without opening it (platform, driver, versions, compute capability).</summary>
    public IReadOnlyDictionary<string, string> Properties { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// One backend as the registry lists it: its name, how to tell whether it can run here and which devices it has
/// (neither ever throws), and how to create it. Each backend project declares its own entry.
/// </summary>
public sealed record BackendEntry(
    string Name,
    string Description,
    Func<Availability> Probe,
    Func<IReadOnlyList<BackendDevice>> Devices,
    Func<Backend> Create)
{
    /// <summary>Creates the backend on a device (<c>--device</c>), for backends with a choice of device; null for the rest.</summary>
    public Func<string, Backend>? CreateOnDevice { get; init; }

    /// <summary>Creates the backend on that many host threads, for backends whose work runs on a pool of host threads; null for the rest (a suite's <c>threads</c> list applies only where it is set).</summary>
    public Func<int, Backend>? CreateOnThreads { get; init; }

    /// <summary>
    /// For backends that compile kernel sources at run time: a checker that builds them all (<c>kernellab kernels check</c>),
    /// on the named device where the backend has a choice; null for the rest.
    /// </summary>
    public Func<string?, IKernelSourceChecker>? KernelSources { get; init; }

    /// <summary>
    /// What the backend promises about repeated runs (<c>kernellab backends</c> shows it): by default the same bits every run on
    /// the same device, which every op here keeps by summing in a fixed order with no atomics. A backend whose sums depend on
    /// something the user sets (a thread count) says so.
    /// </summary>
    public string Reproducibility { get; init; } = "the same bits every run on the same device (fixed summation order, no atomics)";
}
