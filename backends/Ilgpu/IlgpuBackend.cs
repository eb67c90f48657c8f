using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace KernelLab.Backends.Ilgpu;

/// <summary>
/// The ILGPU backend: float32 buffers on one ILGPU accelerator (its Cuda accelerator on an NVIDIA GPU, else its CPU
/// accelerator), every op a kernel written in C# (Kernels/), run on the accelerator's default stream. Kernels are
/// compiled by ILGPU on first use and kept for the backend's life; every compile or launch failure names the kernel and
/// carries ILGPU's message. The ops are in the other IlgpuBackend.*.cs files, by group.
/// </summary>
public sealed partial class IlgpuBackend : Backend
{
    /// <summary>The registry's entry: available where ILGPU has an accelerator it can run on (always its CPU accelerator); each of its devices is a <c>--device</c> choice.</summary>
    public static BackendEntry Entry { get; } = new(
        "ilgpu", "ILGPU kernels written in C#: its Cuda accelerator on an NVIDIA GPU, else its CPU accelerator",
        Probe: () => Availability.Unless(IlgpuDevices.UnavailableReason()), Devices: IlgpuDevices.Listed, Create: () => new IlgpuBackend())
    {
        CreateOnDevice = device => new IlgpuBackend(device),
    };

    private readonly IlgpuDevice _device;
    private readonly Accelerator _accelerator;
    private readonly Dictionary<string, Delegate> _kernels = [];
    private readonly Dictionary<string, IlgpuBuffer> _scratch = []; // per-op work space, grown on demand
    private readonly bool _profilingMarkers;
    private bool _disposed;

    /// <summary>
    /// Threads of a group of the reduction kernels: a power of two, at most 256, what the accelerator allows and a warp's
    /// lanes squared (what <see cref="Kernels.GroupReduce"/> can reduce).
    /// </summary>
    private readonly int _group;

    /// <summary>The GEMM's group shape (x by y threads, each a 4 x 4 block of c): square where the group size allows.</summary>
    private readonly int _gemmX, _gemmY;

    /// <param name="device">A device id (<c>cuda:0</c>, <c>cpu</c>) or part of a device name; null: <see cref="IlgpuDevices.EnvironmentVariable"/>, else the default.</param>
    public IlgpuBackend(string? device = null)
    {
        _device = IlgpuDevices.Select(device);
        try
        {
            _accelerator = _device.Device!.CreateAccelerator(IlgpuDevices.Context);
        }
        catch (Exception e)
        {
            throw new KernelLabException($"ILGPU could not create an accelerator on {_device.Id} ({_device.Name}): {e.Message}", e);
        }
        _group = 1 << (int)Math.Log2(Math.Min(Math.Min(256, _accelerator.MaxNumThreadsPerGroup), _accelerator.WarpSize * _accelerator.WarpSize));
        int log2 = (int)Math.Log2(_group);
        _gemmX = 1 << ((log2 + 1) / 2);
        _gemmY = _group / _gemmX;
        _profilingMarkers = SupportsProfilingMarkers(_accelerator);
        Info = new DeviceInfo(
            Name: _device.Name,
            Vendor: _accelerator.AcceleratorType == AcceleratorType.Cuda ? "NVIDIA" : "ILGPU",
            Kind: _device.Kind,
            ComputeUnits: _accelerator.NumMultiprocessors,
            MemoryBytes: _accelerator.MemorySize,
            Precision: Precision.Float32,
            Properties: new Dictionary<string, string>
            {
                ["device"] = _device.Id,
                ["accelerator"] = _accelerator.AcceleratorType.ToString(),
                ["ILGPU"] = typeof(Context).Assembly.GetName().Version?.ToString(3) ?? "unknown",
                ["warp size"] = _accelerator.WarpSize.ToString(),
                ["max threads per group"] = _accelerator.MaxNumThreadsPerGroup.ToString(),
                ["group size"] = _group.ToString(),
                ["shared memory per group"] = _accelerator.MaxSharedMemoryPerGroup.ToString(),
                ["timer"] = _profilingMarkers ? "ILGPU profiling markers" : "synchronized host clock",
            });
    }

    public override string Name => Entry.Name;

    public override DeviceInfo Info { get; }

    public override void Synchronize()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Call("synchronize", _accelerator.Synchronize);
    }

    /// <summary>Device time between two of ILGPU's profiling markers on the stream, where the accelerator has them; else the host clock around a synchronize.</summary>
    public override IDeviceTimer CreateTimer() => _profilingMarkers ? new MarkerTimer(this) : new HostTimer(this);

    public override void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var buffer in _scratch.Values)
            buffer.Dispose();
        _accelerator.Dispose();
    }

    // ---------------------------------------------------------------- memory

    private sealed class IlgpuBuffer(IlgpuBackend owner, long length) : DeviceBuffer(owner, length)
    {
        public MemoryBuffer1D<float, Stride1D.Dense> Memory { get; } = owner.AllocateMemory<float>(length);

        public override void Dispose() => Memory.Dispose();
    }

    private sealed class IlgpuIndexBuffer(IlgpuBackend owner, long length) : DeviceIndexBuffer(owner, length)
    {
        public MemoryBuffer1D<int, Stride1D.Dense> Memory { get; } = owner.AllocateMemory<int>(length);

        public override void Dispose() => Memory.Dispose();
    }

    /// <summary>Every buffer holds at least one element, so that an empty view of it is a view of something.</summary>
    private MemoryBuffer1D<T, Stride1D.Dense> AllocateMemory<T>(long length) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            return _accelerator.Allocate1D<T>(Math.Max(length, 1));
        }
        catch (Exception e) when (IsIlgpuFailure(e))
        {
            throw new KernelLabException($"ILGPU could not allocate {length} elements of {typeof(T).Name} on {Info.Name}: {e.Message}", e);
        }
    }

    protected override DeviceBuffer AllocateCore(long length) => new IlgpuBuffer(this, length);

    protected override DeviceIndexBuffer AllocateIndicesCore(long length) => new IlgpuIndexBuffer(this, length);

    /// <summary>A buffer of at least <paramref name="length"/> floats that one op uses as work space; the in-order stream keeps uses apart.</summary>
    private ArrayView<float> Scratch(string purpose, long length)
    {
        if (!_scratch.TryGetValue(purpose, out var buffer) || buffer.Length < length)
        {
            buffer?.Dispose();
            buffer = new IlgpuBuffer(this, length);
            _scratch[purpose] = buffer;
        }
        return buffer.Memory.View.SubView(0, length);
    }

    protected override void CopyInCore(DeviceView destination, ReadOnlySpan<float> source) => CopyToDevice(View(destination), source);

    protected override void CopyInCore(DeviceIndexBuffer destination, ReadOnlySpan<int> source) => CopyToDevice(Indices(destination), source);

    private void CopyToDevice<T>(ArrayView<T> destination, ReadOnlySpan<T> source) where T : unmanaged
    {
        if (source.IsEmpty)
            return;
        try
        {
            destination.SubView(0, source.Length).CopyFromCPU(ref MemoryMarshal.GetReference(source), source.Length);
        }
        catch (Exception e) when (IsIlgpuFailure(e))
        {
            throw Failure("copy to the device", e);
        }
    }

    /// <summary>Waits for the queued work on the stream: the copy is queued behind it.</summary>
    protected override void CopyOutCore(DeviceView source, Span<float> destination)
    {
        if (destination.IsEmpty)
            return;
        try
        {
            View(source).CopyToCPU(ref MemoryMarshal.GetReference(destination), destination.Length);
        }
        catch (Exception e) when (IsIlgpuFailure(e))
        {
            throw Failure("copy from the device", e);
        }
    }

    internal ArrayView<float> View(DeviceView view)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return ((IlgpuBuffer)view.Buffer).Memory.View.SubView(view.Offset, view.Length);
    }

    private ArrayView<int> Indices(DeviceIndexBuffer indices)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return ((IlgpuIndexBuffer)indices).Memory.View;
    }

    // ---------------------------------------------------------------- kernels

    /// <summary>
    /// The kernel <paramref name="name"/>, compiled for this accelerator on first use by <paramref name="load"/> and kept;
    /// a compile failure names the kernel and carries ILGPU's message.
    /// </summary>
    private T Kernel<T>(string name, Func<Accelerator, T> load) where T : Delegate
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_kernels.TryGetValue(name, out var loaded))
            return (T)loaded;
        T kernel;
        try
        {
            kernel = load(_accelerator);
        }
        catch (Exception e)
        {
            throw new KernelLabException($"ILGPU kernel {name} failed to compile for {Info.Name}: {e.Message}", e);
        }
        _kernels[name] = kernel;
        return kernel;
    }

    /// <summary>Runs <paramref name="launch"/> with kernel <paramref name="name"/>; a failed launch names the kernel and carries ILGPU's message.</summary>
    internal void Launch<T>(string name, Func<Accelerator, T> load, Action<T> launch) where T : Delegate
    {
        var kernel = Kernel(name, load);
        if (_accelerator.AcceleratorType != AcceleratorType.CPU)
        {
            Call($"kernel {name}", () => launch(kernel));
            return;
        }
        lock (CpuKernels)
            Call($"kernel {name}", () => launch(kernel));
    }

    /// <summary>
    /// Held while a kernel runs on a CPU accelerator, whose launches run to the end before they return: one such kernel at a
    /// time in the process. Parallel test runs have given rare wrong results on CPU accelerators (batch norm's y, a GEMM's c,
    /// a NaN loss: about 1 case check in 7000 with 8 backends checking group kernels side by side), never a backend alone;
    /// the cause inside ILGPU's CPU runtime is not found, and this takes away the one condition every failure had.
    /// </summary>
    private static readonly object CpuKernels = new();

    private void Call(string what, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (IsIlgpuFailure(e))
        {
            throw Failure(what, e);
        }
    }

    /// <summary>An exception of ILGPU or of the device (the contract's argument checks ran before the op), as opposed to the backend's own.</summary>
    private static bool IsIlgpuFailure(Exception e) => e is not (KernelLabException or ObjectDisposedException);

    private KernelLabException Failure(string what, Exception e) => new($"ILGPU {what} failed on {Info.Name}: {e.Message}", e);

    /// <summary>The extent of a one-thread-per-element launch; the contract's lengths fit ILGPU's int32 index.</summary>
    private static Index1D Extent(long n) => n <= int.MaxValue
        ? new Index1D((int)n)
        : throw new KernelLabException($"an ILGPU launch over {n} elements is beyond its int32 index");

    /// <summary>One group of <see cref="_group"/> threads per row (or column, or weight), with <paramref name="sharedFloats"/> floats of dynamic shared memory.</summary>
    private KernelConfig Groups(long groups, int sharedFloats = 0) => sharedFloats > 0
        ? new KernelConfig(Extent(groups), new Index1D(_group), SharedMemoryConfig.RequestDynamic<float>(sharedFloats))
        : new KernelConfig(Extent(groups), new Index1D(_group));

    // ---------------------------------------------------------------- timing

    private static bool SupportsProfilingMarkers(Accelerator accelerator)
    {
        try
        {
            using var marker = accelerator.DefaultStream.AddProfilingMarker();
            marker.Synchronize();
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }

    private sealed class MarkerTimer(IlgpuBackend backend) : IDeviceTimer
    {
        private ProfilingMarker? _start;

        public void Start()
        {
            if (_start is not null)
                throw new InvalidOperationException("this ILGPU timer is already running");
            backend.Synchronize();
            _start = backend._accelerator.DefaultStream.AddProfilingMarker();
        }

        public double Stop()
        {
            var start = _start ?? throw new InvalidOperationException("the ILGPU timer was not started");
            _start = null;
            using (start)
            using (var end = backend._accelerator.DefaultStream.AddProfilingMarker())
            {
                end.Synchronize();
                return end.MeasureFrom(start).TotalMilliseconds;
            }
        }
    }
}
