using Silk.NET.OpenCL;
using static KernelLab.Backends.OpenCL.OpenClException;
using ClDeviceInfo = Silk.NET.OpenCL.DeviceInfo;

namespace KernelLab.Backends.OpenCL;

/// <summary>
/// The OpenCL backend: float32 buffers on one device, every op an OpenCL C kernel of kernels/opencl, run on one
/// in-order command queue with profiling on. The ops are in the other OpenClBackend.*.cs files, by group.
/// </summary>
public sealed unsafe partial class OpenClBackend : Backend, IKernelSourceChecker
{
    private readonly OpenClDevice _device;
    private readonly CL _cl;
    private readonly ClContext _context;
    private readonly ClQueue _queue;
    private readonly OpenClPrograms _programs;
    private readonly Dictionary<string, OpenClBuffer> _scratch = []; // per-op work space, grown on demand
    private List<nint>? _timedEvents; // kernel events since the running timer's Start; null when no timer runs
    private bool _disposed;

    /// <summary>The registry's entry: available where a usable device is found; each device of each platform is a <c>--device</c> choice.</summary>
    public static BackendEntry Entry { get; } = new(
        "opencl", "OpenCL C kernels through libOpenCL.so.1",
        Probe: () => Availability.Unless(OpenClDevices.UnavailableReason()), Devices: OpenClDevices.Listed, Create: () => new OpenClBackend())
    {
        CreateOnDevice = device => new OpenClBackend(device),
        KernelSources = device => new OpenClBackend(device),
    };

    /// <param name="device">platformIndex:deviceIndex or a name substring; null: <see cref="OpenClDevices.EnvironmentVariable"/>, else the default.</param>
    public OpenClBackend(string? device = null)
    {
        if (OpenClDevices.UnavailableReason() is { } reason)
            throw new BackendUnavailableException(Entry.Name, reason);
        _device = OpenClDevices.Select(device);
        _cl = _device.Api;
        nint id = _device.Id;
        int status;
        nint* properties = stackalloc nint[] { (nint)ContextProperties.Platform, _device.Platform, 0 };
        _context = new ClContext(_cl, _cl.CreateContext(properties, 1, &id, null, null, &status));
        Check(status, "clCreateContext");
        // cl_queue_properties are 64-bit: the list is ulongs, as Silk.NET's QueueProperties (its CLEnum overload is 32-bit).
        ulong* queueProperties = stackalloc ulong[] { (ulong)CommandQueueInfo.Properties, (ulong)CommandQueueProperties.ProfilingEnable, 0 };
        _queue = new ClQueue(_cl, _cl.CreateCommandQueueWithProperties(_context.Value, id, (QueueProperties*)queueProperties, &status));
        Check(status, "clCreateCommandQueueWithProperties");
        _programs = new OpenClPrograms(_cl, _context, id);
        Info = ReadInfo(_device);
    }

    public override string Name => Entry.Name;

    public override DeviceInfo Info { get; }

    public override void Synchronize() => Check(_cl.Finish(_queue.Value));

    /// <summary>Kernel time from the queue's profiling events: the sum of the durations (end - start) of the kernels enqueued between Start and Stop. Copies are not counted.</summary>
    public override IDeviceTimer CreateTimer() => new OpenClTimer(this);

    public IReadOnlyList<KernelCheckResult> CheckKernelSources() => _programs.CheckAll(Info.Name);

    public string CompilerDescription => $"{Info.Name}, {Info.Properties["OpenCL C version"]} ({Info.Properties["platform"]})";

    public override void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        ReleaseEvents();
        foreach (var buffer in _scratch.Values)
            buffer.Dispose();
        _programs.Dispose();
        _queue.Dispose();
        _context.Dispose();
    }

    private static DeviceInfo ReadInfo(OpenClDevice device) => new(
        Name: device.Name,
        Vendor: device.Vendor,
        Kind: device.Kind,
        ComputeUnits: (int)OpenClDevices.DeviceValue<uint>(device.Api, device.Id, ClDeviceInfo.MaxComputeUnits),
        MemoryBytes: (long)OpenClDevices.DeviceValue<ulong>(device.Api, device.Id, ClDeviceInfo.GlobalMemSize),
        Precision: Precision.Float32,
        Properties: device.Properties);

    // ---------------------------------------------------------------- memory

    private sealed class OpenClBuffer(Backend owner, long length, ClMem mem) : DeviceBuffer(owner, length)
    {
        public ClMem Mem { get; } = mem;

        public override void Dispose() => Mem.Dispose();
    }

    private sealed class OpenClIndexBuffer(Backend owner, long length, ClMem mem) : DeviceIndexBuffer(owner, length)
    {
        public ClMem Mem { get; } = mem;

        public override void Dispose() => Mem.Dispose();
    }

    // An empty buffer is not allowed by OpenCL: every buffer holds at least one element.
    private ClMem CreateMem(long length)
    {
        int status;
        long bytes = Math.Max(length, 1) * sizeof(float);
        nint handle = _cl.CreateBuffer(_context.Value, MemFlags.ReadWrite, (nuint)bytes, null, &status);
        // Out of memory reads as the driver names it (CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_INVALID_BUFFER_SIZE past the
        // largest buffer the device allows), with the size asked for and the device's memory.
        Check(status, $"clCreateBuffer of {HostMemory.Format(bytes)} on {Info.Name}, which has {HostMemory.Format(Info.MemoryBytes)}");
        return new ClMem(_cl, handle);
    }

    protected override DeviceBuffer AllocateCore(long length) => new OpenClBuffer(this, length, CreateMem(length));

    protected override DeviceIndexBuffer AllocateIndicesCore(long length) => new OpenClIndexBuffer(this, length, CreateMem(length));

    /// <summary>A buffer of at least <paramref name="length"/> floats that one op uses as work space; the in-order queue keeps uses apart.</summary>
    private DeviceBuffer Scratch(string purpose, long length)
    {
        if (_scratch.TryGetValue(purpose, out var buffer) && buffer.Length >= length)
            return buffer;
        buffer?.Dispose();
        buffer = (OpenClBuffer)AllocateCore(length);
        _scratch[purpose] = buffer;
        return buffer;
    }

    protected override void CopyInCore(DeviceView destination, ReadOnlySpan<float> source)
    {
        if (source.IsEmpty)
            return;
        fixed (float* s = source)
            Check(_cl.EnqueueWriteBuffer(_queue.Value, Mem(destination).Value, true, (nuint)(destination.Offset * sizeof(float)),
                (nuint)(source.Length * sizeof(float)), s, 0, null, null));
        GC.KeepAlive(destination.Buffer); // its memory object must outlive the call
    }

    protected override void CopyInCore(DeviceIndexBuffer destination, ReadOnlySpan<int> source)
    {
        if (source.IsEmpty)
            return;
        fixed (int* s = source)
            Check(_cl.EnqueueWriteBuffer(_queue.Value, ((OpenClIndexBuffer)destination).Mem.Value, true, 0,
                (nuint)(source.Length * sizeof(int)), s, 0, null, null));
        GC.KeepAlive(destination);
    }

    protected override void CopyOutCore(DeviceView source, Span<float> destination)
    {
        if (destination.IsEmpty)
            return;
        fixed (float* d = destination)
            Check(_cl.EnqueueReadBuffer(_queue.Value, Mem(source).Value, true, (nuint)(source.Offset * sizeof(float)),
                (nuint)(destination.Length * sizeof(float)), d, 0, null, null));
        GC.KeepAlive(source.Buffer);
    }

    private static ClMem Mem(DeviceView view) => ((OpenClBuffer)view.Buffer).Mem;

    // ---------------------------------------------------------------- kernel launches

    /// <summary>Starts a launch of kernel <paramref name="name"/> of kernels/opencl/<paramref name="source"/>: set its arguments in order, then run.</summary>
    private KernelLaunch Kernel(string source, string name) => new(this, _programs.Kernel(source, name), name);

    private sealed class KernelLaunch(OpenClBackend backend, ClKernel kernel, string name)
    {
        // The memory objects set as arguments, kept reachable until the kernel is enqueued (the queue then holds
        // them), so that a finalizer cannot release one between clSetKernelArg and clEnqueueNDRangeKernel.
        private readonly List<ClMem> _memory = [];
        private uint _index;

        /// <summary>A float32 view: two arguments, the buffer and the element offset.</summary>
        public KernelLaunch View(DeviceView view) => Handle(Mem(view)).Int(view.Offset);

        public KernelLaunch Indices(DeviceIndexBuffer indices) => Handle(((OpenClIndexBuffer)indices).Mem);

        public KernelLaunch Int(long value)
        {
            int v = checked((int)value);
            return Set(sizeof(int), &v);
        }

        public KernelLaunch UInt(uint value) => Set(sizeof(uint), &value);

        public KernelLaunch Bool(bool value) => Int(value ? 1 : 0);

        /// <summary>Host scalars are double in the contract; the kernels take them as float, rounded once here.</summary>
        public KernelLaunch Float(double value)
        {
            float v = (float)value;
            return Set(sizeof(float), &v);
        }

        /// <summary>A host scalar of the optimizers (SCALAR(x) in optimizers.cl): two floats, hi and lo, whose sum is the double to about 48 bits.</summary>
        public KernelLaunch Scalar(double value)
        {
            float hi = (float)value;
            return Float(hi).Float(value - hi);
        }

        /// <summary>A __local float array of <paramref name="count"/> elements (at least one).</summary>
        public KernelLaunch LocalFloats(long count) => Set((nuint)(Math.Max(count, 1) * sizeof(float)), null);

        /// <summary>One work-item per element: <paramref name="items"/> rounded up to whole work-groups of <paramref name="groupSize"/>.</summary>
        public void Run(long items, int groupSize = 128)
        {
            if (items > 0)
                Enqueue((items + groupSize - 1) / groupSize * groupSize, 1, groupSize, 1);
        }

        /// <summary>One work-group of <see cref="OpenClPrograms.ReduceGroup"/> work-items per row (or column, or weight).</summary>
        public void RunGroups(long groups)
        {
            if (groups > 0)
                Enqueue(groups * OpenClPrograms.ReduceGroup, 1, OpenClPrograms.ReduceGroup, 1);
        }

        /// <summary>A 2-D range of work-groups of <paramref name="local0"/> x <paramref name="local1"/>.</summary>
        public void Run2D(long groups0, long groups1, int local0, int local1)
        {
            if (groups0 > 0 && groups1 > 0)
                Enqueue(groups0 * local0, groups1 * local1, local0, local1);
        }

        private void Enqueue(long global0, long global1, int local0, int local1)
        {
            backend.Enqueue(kernel, name, global0, global1, local0, local1);
            GC.KeepAlive(_memory);
        }

        private KernelLaunch Handle(ClMem mem)
        {
            _memory.Add(mem);
            nint handle = mem.Value;
            return Set((nuint)sizeof(nint), &handle);
        }

        private KernelLaunch Set(nuint size, void* value)
        {
            Check(backend._cl.SetKernelArg(kernel.Value, _index, size, value), $"clSetKernelArg({name}, {_index})");
            _index++;
            return this;
        }
    }

    private void Enqueue(ClKernel kernel, string name, long global0, long global1, int local0, int local1)
    {
        nuint* global = stackalloc nuint[] { (nuint)global0, (nuint)global1 };
        nuint* local = stackalloc nuint[] { (nuint)local0, (nuint)local1 };
        uint dimensions = global1 == 1 && local1 == 1 ? 1u : 2u;
        nint evt = 0;
        Check(_cl.EnqueueNdrangeKernel(_queue.Value, kernel.Value, dimensions, null, global, local, 0, null, _timedEvents is null ? null : &evt),
            $"clEnqueueNDRangeKernel({name})");
        _timedEvents?.Add(evt);
    }

    // ---------------------------------------------------------------- timing

    private sealed class OpenClTimer(OpenClBackend backend) : IDeviceTimer
    {
        public void Start() => backend.StartTiming();

        public double Stop() => backend.StopTiming();
    }

    private void StartTiming()
    {
        if (_timedEvents is not null)
            throw new InvalidOperationException("an OpenCL timer is already running on this backend");
        Synchronize();
        _timedEvents = [];
    }

    private double StopTiming()
    {
        if (_timedEvents is null)
            throw new InvalidOperationException("the OpenCL timer was not started");
        try
        {
            Synchronize();
            ulong nanoseconds = 0;
            foreach (nint evt in _timedEvents)
            {
                ulong start, end;
                Check(_cl.GetEventProfilingInfo(evt, ProfilingInfo.Start, sizeof(ulong), &start, null));
                Check(_cl.GetEventProfilingInfo(evt, ProfilingInfo.End, sizeof(ulong), &end, null));
                nanoseconds += end - start;
            }
            return nanoseconds / 1e6;
        }
        finally
        {
            ReleaseEvents();
        }
    }

    private void ReleaseEvents()
    {
        if (_timedEvents is null)
            return;
        foreach (nint evt in _timedEvents)
            _cl.ReleaseEvent(evt); // release only reports an invalid event, which cannot be acted on here
        _timedEvents = null;
    }
}
