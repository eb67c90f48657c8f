namespace KernelLab.Backends;

/// <summary>A block of memory on one backend's device; freed by <see cref="Dispose"/>.</summary>
public abstract class DeviceMemory(Backend owner, long length) : IDisposable
{
    public Backend Owner { get; } = owner;

    /// <summary>Number of elements.</summary>
    public long Length { get; } = length;

    public abstract void Dispose();
}

/// <summary>Real numbers in the backend's <see cref="Precision"/>, from <see cref="Backend.Allocate"/>.</summary>
public abstract class DeviceBuffer(Backend owner, long length) : DeviceMemory(owner, length)
{
    public DeviceView Slice(long offset, long length) => new DeviceView(this, 0, Length).Slice(offset, length);

    public static implicit operator DeviceView(DeviceBuffer buffer) => new(buffer, 0, buffer.Length);
}

/// <summary>int32 indices (token ids, class targets, arg-max positions), from <see cref="Backend.AllocateIndices"/>.</summary>
public abstract class DeviceIndexBuffer(Backend owner, long length) : DeviceMemory(owner, length);

/// <summary>A contiguous range of a <see cref="DeviceBuffer"/>: what every op reads and writes.</summary>
public readonly record struct DeviceView(DeviceBuffer Buffer, long Offset, long Length)
{
    public DeviceView Slice(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"slice [{offset}, {offset + length}) is outside a view of {Length} elements");
        return new DeviceView(Buffer, Offset + offset, length);
    }
}
