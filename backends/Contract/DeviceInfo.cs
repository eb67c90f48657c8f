namespace KernelLab.Backends;

/// <summary>The storage and arithmetic precision of a backend's real-valued buffers.</summary>
public enum Precision
{
    Float32,
    Float64,
}

/// <summary>What a backend runs on. <see cref="Properties"/> carries backend-specific facts (driver version, OpenCL C version, ...).</summary>
public sealed record DeviceInfo(
    string Name,
    string Vendor,
    string Kind,
    int ComputeUnits,
    long MemoryBytes,
    Precision Precision,
    IReadOnlyDictionary<string, string> Properties);
