namespace KernelLab.Backends;

/// <summary>
/// The outcome of building one kernel source for one target (an OpenCL device, a CUDA virtual architecture);
/// <see cref="Log"/> is the compiler's log.
/// </summary>
public sealed record KernelCheckResult(string Source, string Target, bool Succeeded, TimeSpan BuildTime, string Log);

/// <summary>
/// Builds the kernel sources of a backend that compiles them at run time (OpenCL C, CUDA C). <c>kernellab kernels
/// check</c> gets one from the registry entry's <c>KernelSources</c>.
/// </summary>
public interface IKernelSourceChecker : IDisposable
{
    /// <summary>What the sources are built with and for ("Intel(R) ... (PoCL)", "NVRTC libnvrtc.so.11.2, CUDA 11.8").</summary>
    string CompilerDescription { get; }

    /// <summary>Builds every kernel source from scratch (no cached binary), one result per source and target; never throws for a build failure.</summary>
    IReadOnlyList<KernelCheckResult> CheckKernelSources();
}
