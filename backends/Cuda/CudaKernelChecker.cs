namespace KernelLab.Backends.Cuda;

/// <summary>
/// <c>kernellab kernels check --backend cuda</c>: every source compiled by NVRTC for <see cref="CudaKernels.CheckedArchitectures"/>.
/// Needs NVRTC but no GPU and no driver, so CI runs it.
/// </summary>
public sealed class CudaKernelChecker : IKernelSourceChecker
{
    public string CompilerDescription => $"NVRTC {CudaKernels.DescribeNvrtc()}";

    public IReadOnlyList<KernelCheckResult> CheckKernelSources() => CudaKernels.CheckSources(CudaKernels.CheckedArchitectures);

    public void Dispose()
    {
    }
}
