using System.Text;
using static KernelLab.Backends.OpenCL.OpenClException;

namespace KernelLab.Backends.OpenCL;

/// <summary>One device of one platform, numbered as <c>kernellab</c> shows it: platformIndex:deviceIndex.</summary>
public sealed record OpenClDevice(int PlatformIndex, int DeviceIndex, string PlatformName, string Name, ulong Type)
{
    internal nint Platform { get; init; }

    internal nint Id { get; init; }

    public required string Vendor { get; init; }

    /// <summary>Platform, versions, driver and limits, as <see cref="DeviceInfo.Properties"/> and the device list show them.</summary>
    public required IReadOnlyDictionary<string, string> Properties { get; init; }

    /// <summary>Why the backend cannot use the device (the driver reports it unavailable, it has no compiler); null when it can.</summary>
    public string? UnusableReason { get; init; }

    /// <summary>What <c>--device</c> takes: platformIndex:deviceIndex.</summary>
    public string Index => $"{PlatformIndex}:{DeviceIndex}";

    public bool IsGpu => (Type & Native.DeviceTypeGpu) != 0;

    public string Kind => IsGpu ? "gpu" : (Type & Native.DeviceTypeCpu) != 0 ? "cpu" : "accelerator";

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

    /// <summary>Null when a device can be used here; otherwise why not. Never throws.</summary>
    public static string? UnavailableReason()
    {
        if (EnumerationFailure() is { } failure)
            return failure;
        var devices = All();
        if (devices.Count == 0)
            return "no OpenCL device on any platform";
        return devices.All(d => d.UnusableReason is not null)
            ? $"no usable OpenCL device: {string.Join("; ", devices.Select(d => $"{d.Index} {d.UnusableReason}"))}"
            : null;
    }

    /// <summary>Every device of every platform, usable or not; none where OpenCL cannot be loaded. Never throws.</summary>
    public static IReadOnlyList<BackendDevice> Listed() =>
        EnumerationFailure() is null ? All().Select(d => d.Listing).ToList() : [];

    /// <summary>Why the platforms and devices cannot be enumerated (no library, no platform), or null.</summary>
    private static string? EnumerationFailure()
    {
        try
        {
            All();
            return null;
        }
        catch (DllNotFoundException)
        {
            return "libOpenCL.so.1 is missing or cannot be loaded (install an ICD loader and a driver, e.g. ocl-icd-libopencl1 and pocl-opencl-icd)";
        }
        catch (EntryPointNotFoundException e)
        {
            return $"libOpenCL.so.1 lacks an entry point: {e.Message}";
        }
        catch (OpenClException e) when (e.Status == Native.PlatformNotFoundKhr)
        {
            return "no OpenCL platform (CL_PLATFORM_NOT_FOUND_KHR): no driver is installed, e.g. pocl-opencl-icd";
        }
        catch (OpenClException e)
        {
            return e.Message;
        }
    }

    // Platforms and devices are fixed for the life of the process: they are enumerated once, by one thread, so that
    // backends created in parallel (the tests) never race through the ICD loader's first-call initialisation.
    private static readonly Lazy<IReadOnlyList<OpenClDevice>> Enumerated = new(Enumerate, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Every device of every platform; with no platform, throws CL_PLATFORM_NOT_FOUND_KHR.</summary>
    public static IReadOnlyList<OpenClDevice> All() => Enumerated.Value;

    private static IReadOnlyList<OpenClDevice> Enumerate()
    {
        uint platformCount;
        int status = Native.clGetPlatformIDs(0, null, &platformCount);
        if (status == Native.Success && platformCount == 0)
            status = Native.PlatformNotFoundKhr; // what the ICD loader's extension reports, where the loader reports nothing
        Check(status, "clGetPlatformIDs");
        var platforms = new nint[platformCount];
        fixed (nint* p = platforms)
            Check(Native.clGetPlatformIDs(platformCount, p, null));

        var devices = new List<OpenClDevice>();
        for (int pi = 0; pi < platforms.Length; pi++)
        {
            uint deviceCount;
            status = Native.clGetDeviceIDs(platforms[pi], Native.DeviceTypeAll, 0, null, &deviceCount);
            if (status == Native.DeviceNotFound)
                continue; // a platform without devices
            Check(status, "clGetDeviceIDs");
            var ids = new nint[deviceCount];
            fixed (nint* d = ids)
                Check(Native.clGetDeviceIDs(platforms[pi], Native.DeviceTypeAll, deviceCount, d, null));
            string platformName = PlatformString(platforms[pi], Native.PlatformName);
            string platformVersion = PlatformString(platforms[pi], Native.PlatformVersion);
            for (int di = 0; di < ids.Length; di++)
            {
                nint id = ids[di];
                devices.Add(new OpenClDevice(pi, di, platformName, DeviceString(id, Native.DeviceName), DeviceValue<ulong>(id, Native.DeviceType))
                {
                    Platform = platforms[pi],
                    Id = id,
                    Vendor = DeviceString(id, Native.DeviceVendor),
                    Properties = new Dictionary<string, string>
                    {
                        ["device"] = $"{pi}:{di}",
                        ["platform"] = platformName,
                        ["platform version"] = platformVersion,
                        ["device version"] = DeviceString(id, Native.DeviceVersion),
                        ["OpenCL C version"] = DeviceString(id, Native.DeviceOpenClCVersion),
                        ["driver version"] = DeviceString(id, Native.DriverVersion),
                        ["local memory bytes"] = DeviceValue<ulong>(id, Native.DeviceLocalMemSize).ToString(),
                        ["max work-group size"] = DeviceValue<nuint>(id, Native.DeviceMaxWorkGroupSize).ToString(),
                    },
                    UnusableReason = UnusableReason(id),
                });
            }
        }
        return devices;
    }

    // The kernels are OpenCL C, built at run time: a device needs its compiler as much as its driver.
    private static string? UnusableReason(nint device)
    {
        if (DeviceValue<uint>(device, Native.DeviceAvailable) == 0)
            return "the driver reports the device unavailable (CL_DEVICE_AVAILABLE is false)";
        if (DeviceValue<uint>(device, Native.DeviceCompilerAvailable) == 0)
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

    internal static string PlatformString(nint platform, uint name)
    {
        nuint size;
        Check(Native.clGetPlatformInfo(platform, name, 0, null, &size));
        var bytes = new byte[size];
        fixed (byte* b = bytes)
            Check(Native.clGetPlatformInfo(platform, name, size, b, null));
        return Decode(bytes);
    }

    internal static string DeviceString(nint device, uint name)
    {
        nuint size;
        Check(Native.clGetDeviceInfo(device, name, 0, null, &size));
        var bytes = new byte[size];
        fixed (byte* b = bytes)
            Check(Native.clGetDeviceInfo(device, name, size, b, null));
        return Decode(bytes);
    }

    internal static T DeviceValue<T>(nint device, uint name)
        where T : unmanaged
    {
        T value;
        Check(Native.clGetDeviceInfo(device, name, (nuint)sizeof(T), &value, null));
        return value;
    }

    private static string Decode(byte[] bytes) => Encoding.UTF8.GetString(bytes).TrimEnd('\0').Trim();
}
