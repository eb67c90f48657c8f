namespace KernelLab.Backends;

/// <summary>
/// A block of device memory holding real numbers in the backend's <see cref="Precision"/>.
/// Created by <see cref="Backend.Allocate"/>; freed by <see cref="Dispose"/>.
/// </summary>
public abstract class DeviceBuffer : IDisposable
{
    protected DeviceBuffer(Backend owner, long length)
    {
        Owner = owner;
        Length = length;
    }

    public Backend Owner { get; }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    public DeviceView Slice(long offset, long length) => new DeviceView(this, 0, Length).Slice(offset, length);

    public abstract void Dispose();

    public static implicit operator DeviceView(DeviceBuffer buffer) => new(buffer, 0, buffer.Length);
}

/// <summary>A block of device memory holding int32 indices (token ids, class targets, arg-max positions).</summary>
public abstract class DeviceIndexBuffer : IDisposable
{
    protected DeviceIndexBuffer(Backend owner, long length)
    {
        Owner = owner;
        Length = length;
    }

    public Backend Owner { get; }

    public long Length { get; }

    public abstract void Dispose();
}

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
