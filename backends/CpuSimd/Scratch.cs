using System.Runtime.InteropServices;

namespace KernelLab.Backends.CpuSimd;

/// <summary>
/// 64-byte aligned native memory that grows to the largest size asked of it and is then reused: every scratch
/// buffer of a kernel (GEMM packing, im2col columns, partial sums) lives in one of these, so that a steady-state
/// training step allocates nothing.
/// </summary>
internal sealed unsafe class ScratchBuffer : IDisposable
{
    private const nuint Alignment = 64;
    private float* _data;
    private long _capacity;

    /// <summary>At least <paramref name="length"/> floats; contents unspecified. Valid until the next call.</summary>
    public float* Get(long length)
    {
        if (length > _capacity)
        {
            NativeMemory.AlignedFree(_data);
            _data = null;
            _capacity = 0;
            _data = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(length, 16) * sizeof(float), Alignment);
            _capacity = length;
        }
        return _data;
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_data);
        _data = null;
        _capacity = 0;
    }
}

/// <summary>The scratch buffers owned by one worker of the pool.</summary>
internal sealed class WorkerScratch : IDisposable
{
    public ScratchBuffer PackA { get; } = new();     // [MC, KC] in MR-row slivers

    public ScratchBuffer PackB { get; } = new();     // [KC, NC] in NR-column slivers

    public ScratchBuffer Columns { get; } = new();   // im2col columns, attention score gradients

    public ScratchBuffer Partial { get; } = new();   // a worker's partial sums (conv weight gradient)

    public void Dispose()
    {
        PackA.Dispose();
        PackB.Dispose();
        Columns.Dispose();
        Partial.Dispose();
    }
}
