namespace KernelLab.Backends;

/// <summary>The outcome of building one kernel source on a backend's device; <see cref="Log"/> is the compiler's log.</summary>
public sealed record KernelCheckResult(string Source, bool Succeeded, TimeSpan BuildTime, string Log);

/// <summary>
/// A backend that compiles kernel sources at run time (OpenCL C, CUDA C). <c>kernellab kernels check</c> finds it
/// through the registry and builds every source on the backend's device.
/// </summary>
public interface IKernelSourceChecker
{
    /// <summary>Builds every kernel source from scratch (no cached binary), one result per source; never throws for a build failure.</summary>
    IReadOnlyList<KernelCheckResult> CheckKernelSources();
}
