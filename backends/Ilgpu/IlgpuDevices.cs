using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace KernelLab.Backends.Ilgpu;

/// <summary>
/// One device ILGPU can see here: <see cref="Id"/> is what <c>--device</c> and <c>KERNELLAB_ILGPU_DEVICE</c> take
/// (<c>cuda:0</c>, <c>cpu</c>, <c>opencl:0</c>); <see cref="UnavailableReason"/> is null for a device the backend can run on.
/// </summary>
public sealed record IlgpuDevice(string Id, string Name, string Kind, string? UnavailableReason)
{
    internal Device? Device { get; init; }
}

/// <summary>
/// The devices of ILGPU's accelerators on this machine, found once per process: its Cuda accelerator where an NVIDIA
/// driver is present, its CPU accelerator always, and OpenCL devices listed with the reason ILGPU cannot use them.
/// Nothing here throws: a part that cannot be probed is listed as unavailable with ILGPU's message.
/// </summary>
public static class IlgpuDevices
{
    public const string EnvironmentVariable = "KERNELLAB_ILGPU_DEVICE";

    private static readonly Lazy<(Context? Context, IReadOnlyList<IlgpuDevice> Devices, string? Failure)> Discovery = new(Discover);

    /// <summary>Every device, available or not, in the order the default is chosen from (GPUs first).</summary>
    public static IReadOnlyList<IlgpuDevice> All => Discovery.Value.Devices;

    /// <summary>The one ILGPU context of the process: kernels compiled for an accelerator are cached in it.</summary>
    internal static Context Context => Discovery.Value.Context ?? throw new BackendUnavailableException(IlgpuBackend.Entry.Name, UnavailableReason()!);

    /// <summary>The devices as the registry lists them.</summary>
    public static IReadOnlyList<BackendDevice> Listed() =>
        All.Select(d => new BackendDevice(d.Id, d.Name, d.Kind, Availability.Unless(d.UnavailableReason))).ToList();

    /// <summary>Null when at least one device can run the backend, else why none can.</summary>
    public static string? UnavailableReason() =>
        Discovery.Value.Failure ?? (All.Any(d => d.UnavailableReason is null) ? null : string.Join("; ", All.Select(d => $"{d.Id}: {d.UnavailableReason}")));

    /// <summary>
    /// The device named by <paramref name="name"/> (an id, or part of a device name), else by <see cref="EnvironmentVariable"/>,
    /// else the first available one (a Cuda GPU before the CPU).
    /// </summary>
    public static IlgpuDevice Select(string? name)
    {
        name ??= Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        if (name is null)
            return All.FirstOrDefault(d => d.UnavailableReason is null)
                ?? throw new BackendUnavailableException(IlgpuBackend.Entry.Name, UnavailableReason()!);
        var device = All.FirstOrDefault(d => string.Equals(d.Id, name, StringComparison.OrdinalIgnoreCase))
            ?? All.FirstOrDefault(d => d.Name.Contains(name, StringComparison.OrdinalIgnoreCase))
            ?? throw new KernelLabException($"ilgpu device '{name}' not found: expected one of {string.Join(", ", All.Select(d => $"{d.Id} ({d.Name})"))}");
        if (device.UnavailableReason is { } reason)
            throw new KernelLabException($"ilgpu device {device.Id} ({device.Name}) is unavailable: {reason}");
        return device;
    }

    private static (Context?, IReadOnlyList<IlgpuDevice>, string?) Discover()
    {
        ResolveDriverLibraries();
        Context context;
        try
        {
            context = Context.Create(builder => builder.CPU(CpuDevice).Cuda().OpenCL().EnableAlgorithms().Profiling());
        }
        catch (Exception e)
        {
            return (null, [], $"ILGPU could not start: {e.Message}");
        }
        var devices = new List<IlgpuDevice>();
        devices.AddRange(CudaDevices(context));
        int cpus = 0; // the first is "cpu", as every host-CPU backend names its device; any more are cpu:1, cpu:2, ...
        foreach (var cpu in context.GetCPUDevices())
        {
            devices.Add(new IlgpuDevice(cpus == 0 ? "cpu" : $"cpu:{cpus}",
                $"ILGPU CPU accelerator ({cpu.NumThreads} threads per group, warps of {cpu.WarpSize})", "cpu", null) { Device = cpu });
            cpus++;
        }
        devices.AddRange(OpenClDevices(context));
        return (context, devices, null);
    }

    /// <summary>
    /// The CPU accelerator's shape: groups of 4 threads in 2 warps of 2. It runs a group's threads as host threads that
    /// meet at every barrier, so on a machine of a few cores the barriers cost more than the arithmetic: 4 threads a group
    /// run the standard workloads' op cases 2x faster than ILGPU's default (16 threads in warps of 4), and a group of two
    /// warps still takes the group-wide paths a GPU takes (reductions across warps, barriers, shared-memory tiles).
    /// </summary>
    private static CPUDevice CpuDevice { get; } = new(numThreadsPerWarp: 2, numWarpsPerMultiprocessor: 2, numMultiprocessors: 1);

    private static IEnumerable<IlgpuDevice> CudaDevices(Context context)
    {
        if (!NativeLibrary.TryLoad(CudaDriver, out _))
            return [new IlgpuDevice("cuda", "ILGPU Cuda accelerator", "gpu", $"{CudaDriver} not found (no NVIDIA driver on this machine)")];
        try
        {
            var found = new List<CudaDevice>();
            foreach (var device in context.GetCudaDevices())
                found.Add(device);
            if (found.Count == 0)
                return [new IlgpuDevice("cuda", "ILGPU Cuda accelerator", "gpu",
                    $"ILGPU found no CUDA device it supports through {CudaDriver} (driver {CudaDriverVersion()})")];
            return found.Select((d, i) => new IlgpuDevice($"cuda:{i}", d.Name, "gpu", null) { Device = d });
        }
        catch (Exception e)
        {
            return [new IlgpuDevice("cuda", "ILGPU Cuda accelerator", "gpu", $"ILGPU's Cuda accelerator failed to list devices: {e.Message}")];
        }
    }

    private static string CudaDriverVersion()
    {
        try
        {
            return CudaAPI.CurrentAPI.GetDriverVersion(out var version) == CudaError.CUDA_SUCCESS ? version.ToString() : "unknown";
        }
        catch (Exception)
        {
            return "unknown";
        }
    }

    /// <summary>
    /// OpenCL devices: those ILGPU's OpenCL accelerator takes, and the others with the reason it does not. It emits OpenCL
    /// C 2.0 that needs the generic address space, which a device such as PoCL 3.1 lacks, and then does not list the device
    /// at all; the loader's own list shows it here with that reason.
    /// </summary>
    private static IEnumerable<IlgpuDevice> OpenClDevices(Context context)
    {
        var supported = new List<CLDevice>();
        foreach (var device in context.GetCLDevices())
            supported.Add(device);
        var devices = supported.Select((d, i) => new IlgpuDevice($"opencl:{i}", d.Name, Kind(d.DeviceType), null) { Device = d }).ToList();
        try
        {
            var api = CLAPI.CurrentAPI;
            if (api.GetNumPlatforms(out int platformCount) != CLError.CL_SUCCESS || platformCount == 0)
                return devices;
            var platforms = new IntPtr[platformCount];
            if (api.GetPlatforms(platforms, ref platformCount) != CLError.CL_SUCCESS)
                return devices;
            foreach (var platform in platforms)
            {
                var ids = new IntPtr[MaxDevicesPerPlatform];
                if (api.GetDevices(platform, CLDeviceType.CL_DEVICE_TYPE_ALL, ids, out int deviceCount) != CLError.CL_SUCCESS)
                    continue;
                foreach (var id in ids.Take(deviceCount).Where(id => supported.All(d => d.DeviceId != id)))
                {
                    string name = api.GetDeviceInfo(id, CLDeviceInfoType.CL_DEVICE_NAME).Trim();
                    string version = api.GetDeviceInfo(id, CLDeviceInfoType.CL_DEVICE_OPENCL_C_VERSION).Trim();
                    bool generic = api.GetDeviceInfo(id, GenericAddressSpaceSupport, out int support) == CLError.CL_SUCCESS && support != 0;
                    var type = api.GetDeviceInfo(id, CLDeviceInfoType.CL_DEVICE_TYPE, out ulong t) == CLError.CL_SUCCESS ? (CLDeviceType)t : CLDeviceType.CL_DEVICE_TYPE_DEFAULT;
                    string reason = generic
                        ? $"ILGPU's OpenCL accelerator does not support this device ({version})"
                        : $"ILGPU's OpenCL accelerator needs OpenCL C 2.0 with the generic address space; this device has {version} without it";
                    devices.Add(new IlgpuDevice($"opencl:{devices.Count}", name, Kind(type), reason));
                }
            }
        }
        catch (Exception)
        {
            // No ICD loader or a failing driver: there is no OpenCL device to list.
        }
        return devices;
    }

    private static string Kind(CLDeviceType type) =>
        type.HasFlag(CLDeviceType.CL_DEVICE_TYPE_GPU) ? "gpu" : type.HasFlag(CLDeviceType.CL_DEVICE_TYPE_CPU) ? "cpu" : "accelerator";

    private const int MaxDevicesPerPlatform = 64;

    /// <summary>CL_DEVICE_GENERIC_ADDRESS_SPACE_SUPPORT (OpenCL 3.0), which ILGPU's enum does not name.</summary>
    private const CLDeviceInfoType GenericAddressSpaceSupport = (CLDeviceInfoType)0x1069;

    private const string CudaDriver = "libcuda.so.1", OpenClLoader = "libOpenCL.so.1";

    /// <summary>
    /// ILGPU imports the driver as "cuda" and the ICD loader as "OpenCL", which .NET resolves to libcuda.so and libOpenCL.so:
    /// names that only development packages install. Drivers ship the versioned sonames, so those are what is loaded.
    /// </summary>
    private static void ResolveDriverLibraries()
    {
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, (name, assembly, searchPath) =>
            {
                string? soname = name switch
                {
                    "cuda" or "nvcuda" => CudaDriver,
                    "OpenCL" or "opencl" => OpenClLoader,
                    _ => null,
                };
                return soname is not null && NativeLibrary.TryLoad(soname, assembly, searchPath, out var handle) ? handle : IntPtr.Zero;
            });
        }
        catch (InvalidOperationException)
        {
            // ILGPU set its own resolver (it does under WSL): it knows where its libraries are.
        }
    }
}
