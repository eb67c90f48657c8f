using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using KernelLab.Backends.Cuda.Native;
using static KernelLab.Backends.Cuda.Native.CudaDriver;

namespace KernelLab.Backends.Cuda;

/// <summary>
/// float32 on an NVIDIA GPU through the driver API: the device's primary context, one stream, the kernels of
/// <c>kernels/cuda</c> compiled by NVRTC for the device's compute capability, and CUDA events for the timer.
/// Discovery (<see cref="UnavailableReason"/>) never throws; once a device is chosen, every failed call throws
/// <see cref="CudaException"/>. The ops are in CudaBackend.Ops.cs and CudaBackend.Training.cs.
/// </summary>
public sealed unsafe partial class CudaBackend : Backend
{
    /// <summary>The registry's entry: each CUDA device of the driver is a <c>--device</c> choice, by ordinal.</summary>
    public static BackendEntry Entry { get; } = new(
        "cuda", "CUDA C kernels through the driver API and NVRTC",
        Probe: () => Availability.Unless(UnavailableReason()), Devices: Devices, Create: () => new CudaBackend())
    {
        CreateOnDevice = device => new CudaBackend(Ordinal(device)),
        KernelSources = _ => new CudaKernelChecker(),
    };

    private static readonly Lazy<string?> Probe = new(ProbeCore);
    private static readonly Lazy<IReadOnlyList<BackendDevice>> Listed = new(ListDevices);

    private readonly int _device;
    private readonly nint _context;
    private readonly nint _stream;
    private readonly Dictionary<string, nint> _modules = [];
    private readonly Dictionary<KernelSignature, nint> _functions = [];
    private readonly HashSet<ulong> _allocations = [];
    private readonly List<nint> _events = [];
    private ulong _scratch;
    private long _scratchLength;
    private bool _disposed;

    /// <summary>Why this machine cannot run the backend (no driver, no device, no NVRTC), or null when it can. Never throws.</summary>
    public static string? UnavailableReason() => Probe.Value;

    /// <summary>The driver's CUDA devices, by ordinal; none where there is no driver. Never throws.</summary>
    public static IReadOnlyList<BackendDevice> Devices() => Listed.Value;

    private static string? ProbeCore()
    {
        try
        {
            if (DriverFailure(out int count) is { } failure)
                return failure;
            if (count == 0)
                return "the NVIDIA driver reports no CUDA device";
            try
            {
                Nvrtc.Load(DriverVersion());
            }
            catch (KernelLabException) when (Directory.Exists(CudaKernels.ShippedPtxDirectory))
            {
                // No NVRTC, but a published build's PTX: the constructor picks the architecture.
            }
            return null;
        }
        catch (Exception e)
        {
            // An entry point that an old driver lacks, a failing call: the backend cannot run here, and says why.
            return e.Message;
        }
    }

    /// <summary>Loads and initialises the driver and counts its devices; null, or why there is no driver to use.</summary>
    private static string? DriverFailure(out int count)
    {
        count = 0;
        if (!NativeLibrary.TryLoad(Library, out _))
            return $"{Library} not found (no NVIDIA driver on this machine)";
        int init = cuInit(0);
        if (init != Success)
            return $"cuInit failed: {ErrorName(init)}" + (ErrorDescription(init) is { } d ? $" ({d})" : "");
        int devices;
        Check(cuDeviceGetCount(&devices));
        count = devices;
        return null;
    }

    // Every device the driver reports, each usable or not as the backend is (NVRTC or shipped PTX is needed for any of them).
    private static IReadOnlyList<BackendDevice> ListDevices()
    {
        try
        {
            if (DriverFailure(out int count) is not null)
                return [];
            var availability = Availability.Unless(UnavailableReason());
            string driver = DriverDescription(DriverVersion());
            return Enumerable.Range(0, count).Select(ordinal =>
            {
                var d = Describe(ordinal);
                return new BackendDevice(ordinal.ToString(CultureInfo.InvariantCulture), d.Name, "gpu", availability)
                {
                    Vendor = "NVIDIA",
                    Properties = new Dictionary<string, string>
                    {
                        ["compute capability"] = $"{d.Major}.{d.Minor}",
                        ["multiprocessors"] = d.Multiprocessors.ToString(CultureInfo.InvariantCulture),
                        ["memory bytes"] = d.MemoryBytes.ToString(CultureInfo.InvariantCulture),
                        ["driver"] = driver,
                    },
                };
            }).ToList();
        }
        catch (Exception)
        {
            return []; // a failing driver call: the probe names it on the backend's line
        }
    }

    /// <summary>What the driver says of device <paramref name="ordinal"/>: its handle, name, compute capability, multiprocessors and memory.</summary>
    private static (int Handle, string Name, int Major, int Minor, int Multiprocessors, long MemoryBytes) Describe(int ordinal)
    {
        int device, major, minor, multiprocessors;
        nuint memory;
        Check(cuDeviceGet(&device, ordinal));
        Check(cuDeviceGetAttribute(&major, AttributeComputeCapabilityMajor, device));
        Check(cuDeviceGetAttribute(&minor, AttributeComputeCapabilityMinor, device));
        Check(cuDeviceGetAttribute(&multiprocessors, AttributeMultiprocessorCount, device));
        Check(cuDeviceTotalMem_v2(&memory, device));
        const int nameLength = 256;
        byte* name = stackalloc byte[nameLength];
        Check(cuDeviceGetName(name, nameLength, device));
        return (device, Marshal.PtrToStringUTF8((nint)name) ?? "NVIDIA GPU", major, minor, multiprocessors, (long)memory);
    }

    private static int DriverVersion()
    {
        int version;
        Check(cuDriverGetVersion(&version));
        return version;
    }

    private static string DriverDescription(int driverVersion) => $"CUDA {driverVersion / 1000}.{driverVersion % 1000 / 10}";

    /// <summary>The ordinal that <c>--device</c> names: one of the ids of <see cref="Devices"/>.</summary>
    private static int Ordinal(string device) =>
        Devices().Any(d => d.Id == device)
            ? int.Parse(device, CultureInfo.InvariantCulture)
            : throw new KernelLabException($"cuda: --device '{device}' matches no device; devices: {string.Join("; ", Devices().Select(d => $"{d.Id} {d.Name}"))}");

    /// <summary>Chooses device <paramref name="ordinal"/>, retains its primary context and loads the kernels (compiled once per process).</summary>
    public CudaBackend(int ordinal = 0)
    {
        if (UnavailableReason() is { } reason)
            throw new BackendUnavailableException(Entry.Name, reason);
        var d = Describe(ordinal);
        _device = d.Handle;
        int driverVersion = DriverVersion();

        nint context, stream;
        Check(cuDevicePrimaryCtxRetain(&context, _device));
        _context = context;
        try
        {
            Check(cuCtxSetCurrent(context));
            // Flags 0 (CU_STREAM_DEFAULT): a blocking stream, ordered with the legacy default stream that the synchronous
            // cuMemcpyHtoD/DtoH run on, so a copy waits for the kernels queued before it and the kernels after it wait for the copy.
            Check(cuStreamCreate(&stream, 0));
            _stream = stream;

            var (architecture, kernels, compiler) = Kernels(d.Major * 10 + d.Minor, driverVersion);
            foreach (var (source, ptx) in kernels)
                _modules[source] = LoadModule(source, ptx, compiler, driverVersion);

            Info = new DeviceInfo(
                Name: d.Name,
                Vendor: "NVIDIA",
                Kind: "gpu",
                ComputeUnits: d.Multiprocessors,
                MemoryBytes: d.MemoryBytes,
                Precision: Precision.Float32,
                Properties: new Dictionary<string, string>
                {
                    ["device"] = ordinal.ToString(CultureInfo.InvariantCulture),
                    ["compute capability"] = $"{d.Major}.{d.Minor}",
                    ["driver"] = DriverDescription(driverVersion),
                    ["kernels"] = compiler,
                    ["architecture"] = architecture,
                });
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override string Name => Entry.Name;

    public override DeviceInfo Info { get; }

    /// <summary>
    /// The virtual architecture to compile for: the device's own (compute_86 for 8.6), or the newest NVRTC knows below it,
    /// whose PTX the driver compiles for the device.
    /// </summary>
    private static string Architecture(int deviceArchitecture, IReadOnlyList<int>? supported)
    {
        int chosen = supported is null ? deviceArchitecture : supported.Where(a => a <= deviceArchitecture).DefaultIfEmpty(deviceArchitecture).Max();
        return $"compute_{chosen}";
    }

    /// <summary>
    /// The PTX of every source: compiled by NVRTC for the device (once per process), or, where NVRTC is missing, the PTX a
    /// published build ships for the newest architecture not above the device's. Also says where it came from.
    /// </summary>
    private static (string Architecture, IReadOnlyDictionary<string, string> Ptx, string Compiler) Kernels(int deviceArchitecture, int driverVersion)
    {
        Nvrtc nvrtc;
        try
        {
            nvrtc = Nvrtc.Load(driverVersion);
        }
        catch (KernelLabException missing)
        {
            var shipped = CudaKernels.ShippedPtx(CudaKernels.ShippedPtxDirectory, deviceArchitecture)
                ?? throw new KernelLabException($"{missing.Message}; and no PTX at or below compute_{deviceArchitecture} in {CudaKernels.ShippedPtxDirectory}");
            return (shipped.Architecture, shipped.Ptx, $"PTX shipped in {CudaKernels.ShippedPtxDirectory}");
        }
        string architecture = Architecture(deviceArchitecture, nvrtc.SupportedArchitectures());
        return (architecture, CudaKernels.Ptx(nvrtc, architecture), $"NVRTC {nvrtc.Path} (CUDA {nvrtc.Version})");
    }

    private nint LoadModule(string source, string ptx, string compiler, int driverVersion)
    {
        const int logSize = 16 * 1024;
        byte* errorLog = stackalloc byte[logSize];
        byte* infoLog = stackalloc byte[logSize];
        errorLog[0] = infoLog[0] = 0;
        int* options = stackalloc int[] { JitErrorLogBuffer, JitErrorLogBufferSizeBytes, JitInfoLogBuffer, JitInfoLogBufferSizeBytes };
        // The size options are passed in the pointer-sized slot itself, as cuda.h specifies.
        nint* values = stackalloc nint[] { (nint)errorLog, logSize, (nint)infoLog, logSize };
        byte[] image = Encoding.UTF8.GetBytes(ptx + "\0");
        nint module;
        int result;
        fixed (byte* p = image)
            result = cuModuleLoadDataEx(&module, p, 4, options, (void**)values);
        if (result != Success)
        {
            string log = Marshal.PtrToStringUTF8((nint)errorLog) ?? "";
            if (ErrorName(result) == "CUDA_ERROR_UNSUPPORTED_PTX_VERSION")
                log += $" PTX from {compiler}, driver of {DriverDescription(driverVersion)}: the PTX needs a driver at least as new as its compiler.";
            throw new CudaException(ErrorName(result), $"cuModuleLoadDataEx({source})", ErrorDescription(result), log);
        }
        return module;
    }

    private nint Function(KernelSignature kernel)
    {
        if (_functions.TryGetValue(kernel, out nint function))
            return function;
        byte[] name = Encoding.UTF8.GetBytes(kernel.Name + "\0");
        fixed (byte* p = name)
            Check(cuModuleGetFunction(&function, _modules[kernel.Source], p), $"cuModuleGetFunction({kernel.Name})");
        _functions[kernel] = function;
        return function;
    }

    /// <summary>
    /// Makes this backend's context current on the calling thread (a test may continue on another thread). Every call that
    /// reaches the driver other than a launch comes here, so a step being recorded (<see cref="_recording"/>) has its
    /// launches so far run first, in order, and runs op by op from there.
    /// </summary>
    private void Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _recording?.Interrupt();
        Check(cuCtxSetCurrent(_context));
    }

    /// <summary>
    /// Queues <paramref name="kernel"/> on the stream, or records it in the step graph being recorded. Each argument is
    /// checked against the kernel's declared parameters. An empty grid launches nothing.
    /// </summary>
    private void Launch(KernelSignature kernel, (long X, long Y) grid, (int X, int Y) block, int sharedBytes, params ReadOnlySpan<KernelArgument> arguments)
    {
        if (arguments.Length != kernel.Parameters.Length)
            throw new InvalidOperationException($"{kernel} launched with {arguments.Length} arguments");
        for (int i = 0; i < arguments.Length; i++)
            if (arguments[i].Kind != kernel.Parameters[i])
                throw new InvalidOperationException($"{kernel}: argument {i} is {arguments[i].Kind}");
        if (grid.X <= 0 || grid.Y <= 0)
            return;
        if (grid.X > int.MaxValue || grid.Y > ushort.MaxValue)
            throw new KernelLabException($"{kernel.Name}: a grid of {grid.X} x {grid.Y} blocks is beyond the device's limits");
        var launch = new LaunchShape(kernel, (uint)grid.X, (uint)grid.Y, (uint)block.X, (uint)block.Y, (uint)sharedBytes);
        if (_recording is { } step)
            step.Record(launch, arguments);
        else
            LaunchNow(launch, arguments);
    }

    /// <summary>cuLaunchKernel on the stream, with the arguments as it wants them: an array of pointers, each to one argument's value.</summary>
    private void LaunchNow(in LaunchShape launch, ReadOnlySpan<KernelArgument> arguments)
    {
        Enter();
        ulong* values = stackalloc ulong[arguments.Length];
        nint* pointers = stackalloc nint[arguments.Length];
        KernelArgument.Marshal(arguments, values, pointers);
        Check(cuLaunchKernel(Function(launch.Kernel), launch.GridX, launch.GridY, 1, launch.BlockX, launch.BlockY, 1, launch.SharedBytes, _stream, (void**)pointers, null),
            $"cuLaunchKernel({launch.Kernel.Name})");
    }

    // ---------------------------------------------------------------- memory

    internal sealed class CudaBuffer(CudaBackend owner, long length) : DeviceBuffer(owner, length)
    {
        public ulong Address { get; } = owner.AllocateBytes(length * sizeof(float));

        public override void Dispose() => ((CudaBackend)Owner).Free(Address);
    }

    internal sealed class CudaIndexBuffer(CudaBackend owner, long length) : DeviceIndexBuffer(owner, length)
    {
        public ulong Address { get; } = owner.AllocateBytes(length * sizeof(int));

        public override void Dispose() => ((CudaBackend)Owner).Free(Address);
    }

    protected override DeviceBuffer AllocateCore(long length) => new CudaBuffer(this, length);

    protected override DeviceIndexBuffer AllocateIndicesCore(long length) => new CudaIndexBuffer(this, length);

    /// <summary>The device's free memory as the driver reports it (cuMemGetInfo).</summary>
    public override long AvailableMemoryBytes
    {
        get
        {
            Enter();
            nuint free, total;
            Check(cuMemGetInfo_v2(&free, &total));
            return (long)free;
        }
    }

    /// <summary>Device memory; an empty buffer gets address 0 (cuMemAlloc refuses 0 bytes) and no kernel reads it.</summary>
    private ulong AllocateBytes(long bytes)
    {
        if (bytes == 0)
            return 0;
        Enter();
        ulong address;
        int status = cuMemAlloc_v2(&address, (nuint)bytes);
        if (status == OutOfMemory)
            throw new CudaException(ErrorName(status), $"cuMemAlloc_v2 of {HostMemory.Format(bytes)}",
                $"out of device memory on {Info.Name}: {HostMemory.Format(AvailableMemoryBytes)} free of {HostMemory.Format(Info.MemoryBytes)}");
        Check(status);
        lock (_allocations)
            _allocations.Add(address);
        return address;
    }

    /// <summary>
    /// Frees once; memory that the backend's Dispose already freed is left alone. A failed free is not reported: it can only
    /// follow an error that an earlier call has thrown.
    /// </summary>
    private void Free(ulong address)
    {
        lock (_allocations)
        {
            if (_disposed || !_allocations.Remove(address))
                return;
        }
        _recording?.Interrupt(); // launches recorded but not yet run may still read it
        if (cuCtxSetCurrent(_context) == Success)
            cuMemFree_v2(address);
    }

    /// <summary>Backend-owned device memory for an op's intermediate values (per-row losses, attention's score gradient), grown as needed, reused in stream order.</summary>
    private ulong Scratch(long floats)
    {
        if (floats > _scratchLength)
        {
            Synchronize(); // queued kernels may still read the old block
            Free(_scratch);
            _scratch = AllocateBytes(floats * sizeof(float));
            _scratchLength = floats;
        }
        return _scratch;
    }

    protected override void CopyInCore(DeviceView destination, ReadOnlySpan<float> source)
    {
        if (source.IsEmpty)
            return;
        Enter();
        fixed (float* p = source)
            Check(cuMemcpyHtoD_v2(Address(destination), p, (nuint)(source.Length * sizeof(float))));
    }

    protected override void CopyInCore(DeviceIndexBuffer destination, ReadOnlySpan<int> source)
    {
        if (source.IsEmpty)
            return;
        Enter();
        fixed (int* p = source)
            Check(cuMemcpyHtoD_v2(((CudaIndexBuffer)destination).Address, p, (nuint)(source.Length * sizeof(int))));
    }

    /// <summary>
    /// A read of at most <see cref="PinnedFloats"/> (the loss after a training step, the L1 penalty) is a DMA on the stream
    /// into page-locked memory, which the driver does not stage through a buffer of its own as it does a pageable
    /// destination; a larger one goes straight to the destination. Either waits for the stream's work before it.
    /// </summary>
    protected override void CopyOutCore(DeviceView source, Span<float> destination)
    {
        if (destination.IsEmpty)
            return;
        Enter();
        nuint bytes = (nuint)(destination.Length * sizeof(float));
        if (destination.Length > PinnedFloats)
        {
            fixed (float* p = destination)
                Check(cuMemcpyDtoH_v2(p, Address(source), bytes));
            return;
        }
        if (_pinned == null)
        {
            void* pinned;
            Check(cuMemAllocHost_v2(&pinned, PinnedFloats * sizeof(float)));
            _pinned = (float*)pinned;
        }
        Check(cuMemcpyDtoHAsync_v2(_pinned, Address(source), bytes, _stream));
        Check(cuStreamSynchronize(_stream));
        new ReadOnlySpan<float>(_pinned, destination.Length).CopyTo(destination);
    }

    private const int PinnedFloats = 1024;
    private float* _pinned; // [PinnedFloats] page-locked, allocated by the first small read

    private static ulong Address(DeviceView view) => ((CudaBuffer)view.Buffer).Address + (ulong)view.Offset * sizeof(float);

    public override void Synchronize()
    {
        Enter();
        Check(cuStreamSynchronize(_stream));
    }

    // ---------------------------------------------------------------- timer

    public override IDeviceTimer CreateTimer()
    {
        Enter();
        nint start, stop;
        Check(cuEventCreate(&start, 0));
        _events.Add(start);
        Check(cuEventCreate(&stop, 0));
        _events.Add(stop);
        return new CudaTimer(this, start, stop);
    }

    /// <summary>Device time between two events recorded on the stream; the events live as long as the backend.</summary>
    private sealed class CudaTimer(CudaBackend backend, nint start, nint stop) : IDeviceTimer
    {
        public void Start()
        {
            backend.Enter();
            Check(cuEventRecord(start, backend._stream));
        }

        public double Stop()
        {
            backend.Enter();
            Check(cuEventRecord(stop, backend._stream));
            Check(cuEventSynchronize(stop));
            float milliseconds;
            Check(EventElapsedTime(&milliseconds, start, stop));
            return milliseconds;
        }
    }

    // ---------------------------------------------------------------- release

    /// <summary>
    /// Frees every allocation still live, the events, modules and stream, and releases the primary context. Never throws:
    /// a release that fails can only follow an error that an earlier call has thrown.
    /// </summary>
    public override void Dispose()
    {
        lock (_allocations)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        if (_context == 0)
            return;
        if (cuCtxSetCurrent(_context) == Success)
        {
            if (_stream != 0)
                cuStreamSynchronize(_stream);
            foreach (ulong address in _allocations)
                cuMemFree_v2(address);
            foreach (nint evt in _events)
                cuEventDestroy_v2(evt);
            foreach (nint module in _modules.Values)
                cuModuleUnload(module);
            if (_pinned != null)
                cuMemFreeHost(_pinned);
            if (_stream != 0)
                cuStreamDestroy_v2(_stream);
        }
        _allocations.Clear();
        cuDevicePrimaryCtxRelease_v2(_device);
    }
}
