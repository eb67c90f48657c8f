namespace KernelLab.Backends.Cuda;

/// <summary>
/// A failed CUDA driver or NVRTC call: <paramref name="errorName"/> is the API's own name for the status
/// (<c>CUDA_ERROR_OUT_OF_MEMORY</c>, <c>NVRTC_ERROR_COMPILATION</c>), <paramref name="call"/> the failing call as written.
/// A failed compilation or module load carries the compiler's log in <paramref name="log"/>.
/// </summary>
public sealed class CudaException(string errorName, string call, string? description = null, string? log = null)
    : KernelLabException(Format(errorName, call, description, log))
{
    public string ErrorName { get; } = errorName;

    public string Call { get; } = call;

    public string? Log { get; } = log;

    private static string Format(string errorName, string call, string? description, string? log)
    {
        string message = $"CUDA call {call} failed: {errorName}";
        if (!string.IsNullOrEmpty(description) && description != errorName)
            message += $" ({description})";
        if (!string.IsNullOrWhiteSpace(log))
            message += $"; log: {log.Trim()}";
        return message;
    }
}
