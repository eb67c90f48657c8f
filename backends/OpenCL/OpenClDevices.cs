using System.Text;
using Silk.NET.Core.Loader;
using Silk.NET.OpenCL;
using ClDeviceInfo = Silk.NET.OpenCL.DeviceInfo;
using static KernelLab.Backends.OpenCL.OpenClException;

namespace KernelLab.Backends.OpenCL;

/// <summary>One device of one platform, numbered as <c>kernellab</c> shows it: platformIndex:deviceIndex.</summary>
public sealed record OpenClDevice(int PlatformIndex, int DeviceIndex, string PlatformName, string Name, ulong Type)
{
    /// <summary>The ICD loader's API, as discovery loaded it.</summary>
    internal CL Api { get; init; } = null!;

    internal nint Platform { get; init; }

    internal nint Id { get; init; }

    public required string Vendor { get; init; }

    /// <summary>Platform, versions, driver and limits, as <see cref="DeviceInfo.Properties"/> and the device list show them.</summary>
    public required IReadOnlyDictionary<string, string> Properties { get; init; }

    /// <summary>Why the backend cannot use the device (the driver reports it unavailable, it has no compiler); null when it can.</summary>
    public string? UnusableReason { get; init; }

    /// <summary>What <c>--device</c> takes: platformIndex:deviceIndex.</summary>
    public string Index => $"{PlatformIndex}:{DeviceIndex}";

    public bool IsGpu => (Type & (ulong)DeviceType.Gpu) != 0;

    public string Kind => IsGpu ? "gpu" : (Type & (ulong)DeviceType.Cpu) != 0 ? "cpu" : "accelerator";

    /// <summary>The device as the registry lists it.</summary>
    public BackendDevice Listing => new(Index, Name, Kind, Availability.Unless(UnusableReason)) { Vendor = Vendor, Properties = Properties };

    public override string ToString() => $"{Index} {Name} ({PlatformName})";
}

/// <summary>
/// Platform and device discovery, and the choice of one device: <c>--device</c> on the command line, else
/// <see cref="EnvironmentVariable"/>, else the first usable GPU, else the first usable device. A choice is
/// <c>platformIndex:deviceIndex</c> or a case-insensitive substring of the device or platform name.
/// </summary>
public static unsafe class OpenClDevices
{
    public const string EnvironmentVariable = "KERNELLAB_OPENCL_DEVICE";

    /// <summary>
    /// The ICD loader by its soname: Debian's ocl-icd-libopencl1 installs libOpenCL.so.1 alone (libOpenCL.so is the link its
    /// -dev package adds). Named here rather than left to Silk.NET.OpenCL's default list, which has not always held it.
    /// </summary>
    internal const string Library = "libOpenCL.so.1";

    /// <summary>Null when a device can be used here; otherwise why not. Never throws.</summary>
    public static string? UnavailableReason()
    {
        var (devices, failure) = Discovered.Value;
        if (failure is not null)
            return failure;
        if (devices.Count == 0)
            return "no OpenCL device on any platform";
        return devices.All(d => d.UnusableReason is not null)
            ? $"no usable OpenCL device: {string.Join("; ", devices.Select(d => $"{d.Index} {d.UnusableReason}"))}"
            : null;
    }

    /// <summary>Every device of every platform, usable or not; none where OpenCL cannot be loaded. Never throws.</summary>
    public static IReadOnlyList<BackendDevice> Listed() => All().Select(d => d.Listing).ToList();

    /// <summary>Every device of every platform, usable or not; none where OpenCL cannot be loaded or has no platform. Never throws.</summary>
    public static IReadOnlyList<OpenClDevice> All() => Discovered.Value.Devices;

    /// <summary>What discovery found: every device of every platform, or why the platforms and devices cannot be enumerated (no library, no platform).</summary>
    internal sealed record Discovery(IReadOnlyList<OpenClDevice> Devices, string? Failure);

    // Platforms and devices are fixed for the life of the process: they are enumerated once, by one thread, so that
    // backends created in parallel (the tests) never race through the ICD loader's first-call initialisation.
    private static readonly Lazy<Discovery> Discovered = new(() => Discover(Library), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Loads the ICD loader <paramref name="library"/> and enumerates its platforms and devices. Never throws.</summary>
    internal static Discovery Discover(string library)
    {
        try
        {
            return new(Enumerate(new CL(CL.CreateDefaultContext([library]))), null);
        }
        catch (FileNotFoundException)
        {
            return new([], $"{library} is missing or cannot be loaded (install an ICD loader and a driver, e.g. ocl-icd-libopencl1 and pocl-opencl-icd)");
        }
        catch (SymbolLoadingException e)
        {
            return new([], $"{library} lacks an entry point: {e.Message}");
        }
        catch (OpenClException e) when (e.Status == (int)ErrorCodes.PlatformNotFoundKhr)
        {
            return new([], "no OpenCL platform (CL_PLATFORM_NOT_FOUND_KHR): no driver is installed, e.g. pocl-opencl-icd");
        }
        catch (OpenClException e)
        {
            return new([], e.Message);
        }
    }

    /// <summary>Every device of every platform; with no platform, throws CL_PLATFORM_NOT_FOUND_KHR.</summary>
    private static List<OpenClDevice> Enumerate(CL cl)
    {
        uint platformCount;
        int status = cl.GetPlatformIDs(0, null, &platformCount);
        if (status == (int)ErrorCodes.Success && platformCount == 0)
            status = (int)ErrorCodes.PlatformNotFoundKhr; // what the ICD loader's extension reports, where the loader reports nothing
        Check(status, "clGetPlatformIDs");
        var platforms = new nint[platformCount];
        fixed (nint* p = platforms)
            Check(cl.GetPlatformIDs(platformCount, p, null));

        var devices = new List<OpenClDevice>();
        for (int pi = 0; pi < platforms.Length; pi++)
        {
            uint deviceCount;
            status = cl.GetDeviceIDs(platforms[pi], DeviceType.All, 0, null, &deviceCount);
            if (status == (int)ErrorCodes.DeviceNotFound)
                continue; // a platform without devices
            Check(status, "clGetDeviceIDs");
            var ids = new nint[deviceCount];
            fixed (nint* d = ids)
                Check(cl.GetDeviceIDs(platforms[pi], DeviceType.All, deviceCount, d, null));
            string platformName = PlatformString(cl, platforms[pi], PlatformInfo.Name);
            string platformVersion = PlatformString(cl, platforms[pi], PlatformInfo.Version);
            for (int di = 0; di < ids.Length; di++)
            {
                nint id = ids[di];
                devices.Add(new OpenClDevice(pi, di, platformName, DeviceString(cl, id, ClDeviceInfo.Name), DeviceValue<ulong>(cl, id, ClDeviceInfo.Type))
                {
                    Api = cl,
                    Platform = platforms[pi],
                    Id = id,
                    Vendor = DeviceString(cl, id, ClDeviceInfo.Vendor),
                    Properties = new Dictionary<string, string>
                    {
                        ["device"] = $"{pi}:{di}",
                        ["platform"] = platformName,
                        ["platform version"] = platformVersion,
                        ["device version"] = DeviceString(cl, id, ClDeviceInfo.Version),
                        ["OpenCL C version"] = DeviceString(cl, id, OpenClCVersion),
                        ["driver version"] = DeviceString(cl, id, ClDeviceInfo.DriverVersion),
                        ["local memory bytes"] = DeviceValue<ulong>(cl, id, ClDeviceInfo.LocalMemSize).ToString(),
                        ["max work-group size"] = DeviceValue<nuint>(cl, id, ClDeviceInfo.MaxWorkGroupSize).ToString(),
                    },
                    UnusableReason = UnusableReason(cl, id),
                });
            }
        }
        return devices;
    }

    // CL_DEVICE_OPENCL_C_VERSION, which Silk.NET marks obsolete since OpenCL 3.0 deprecated it: it is the query every
    // OpenCL version answers, where its successor CL_DEVICE_OPENCL_C_ALL_VERSIONS is 3.0 only.
#pragma warning disable CS0618
    private const ClDeviceInfo OpenClCVersion = ClDeviceInfo.OpenclCVersion;
#pragma warning restore CS0618

    // The kernels are OpenCL C, built at run time: a device needs its compiler as much as its driver.
    private static string? UnusableReason(CL cl, nint device)
    {
        if (DeviceValue<uint>(cl, device, ClDeviceInfo.Available) == 0)
            return "the driver reports the device unavailable (CL_DEVICE_AVAILABLE is false)";
        if (DeviceValue<uint>(cl, device, ClDeviceInfo.CompilerAvailable) == 0)
            return "the device has no OpenCL C compiler (CL_DEVICE_COMPILER_AVAILABLE is false)";
        return null;
    }

    /// <summary>
    /// The device <paramref name="choice"/> names (null: the environment variable, else the default), where
    /// <see cref="UnavailableReason"/> has found a usable one.
    /// </summary>
    internal static OpenClDevice Select(string? choice)
    {
        var devices = All();
        string? source = choice is null ? null : "--device";
        if (choice is null && Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            choice = fromEnvironment;
            source = EnvironmentVariable;
        }
        if (choice is null)
            return devices.FirstOrDefault(d => d.IsGpu && d.UnusableReason is null) ?? devices.First(d => d.UnusableReason is null);

        var parts = choice.Split(':');
        var match = parts.Length == 2 && int.TryParse(parts[0], out int p) && int.TryParse(parts[1], out int d)
            ? devices.FirstOrDefault(x => x.PlatformIndex == p && x.DeviceIndex == d)
            : devices.FirstOrDefault(x => x.Name.Contains(choice, StringComparison.OrdinalIgnoreCase)
                                          || x.PlatformName.Contains(choice, StringComparison.OrdinalIgnoreCase));
        if (match is null)
            throw new KernelLabException($"OpenCL: {source} '{choice}' matches no device; devices: {string.Join("; ", devices)}");
        return match.UnusableReason is null
            ? match
            : throw new KernelLabException($"OpenCL: {source} '{choice}' is device {match}, which cannot be used: {match.UnusableReason}");
    }

    private static string PlatformString(CL cl, nint platform, PlatformInfo name)
    {
        nuint size;
        Check(cl.GetPlatformInfo(platform, name, 0, null, &size));
        var bytes = new byte[size];
        fixed (byte* b = bytes)
            Check(cl.GetPlatformInfo(platform, name, size, b, null));
        return Decode(bytes);
    }

    private static string DeviceString(CL cl, nint device, ClDeviceInfo name)
    {
        nuint size;
        Check(cl.GetDeviceInfo(device, name, 0, null, &size));
        var bytes = new byte[size];
        fixed (byte* b = bytes)
            Check(cl.GetDeviceInfo(device, name, size, b, null));
        return Decode(bytes);
    }

    internal static T DeviceValue<T>(CL cl, nint device, ClDeviceInfo name)
        where T : unmanaged
    {
        T value;
        Check(cl.GetDeviceInfo(device, name, (nuint)sizeof(T), &value, null));
        return value;
    }

    private static string Decode(byte[] bytes) => Encoding.UTF8.GetString(bytes).TrimEnd('\0').Trim();
}
