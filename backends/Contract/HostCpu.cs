using System.Runtime.InteropServices;

namespace KernelLab.Backends;

/// <summary>The host CPU, as the backends that run on it list it and as results record it.</summary>
public static class HostCpu
{
    /// <summary>What <c>--device</c> takes for a backend whose one device is the host CPU.</summary>
    public const string DeviceId = "cpu";

    private static readonly Lazy<string> Model = new(ReadModel);

    /// <summary>The model name from /proc/cpuinfo where it can be read, else the architecture (X64, Arm64). Never throws.</summary>
    public static string ModelName => Model.Value;

    /// <summary>The device list of a backend that runs on the host CPU: the CPU itself.</summary>
    public static IReadOnlyList<BackendDevice> Devices() => [new(DeviceId, ModelName, "cpu", Availability.Yes)];

    private static string ReadModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                if (line is not null)
                    return line[(line.IndexOf(':') + 1)..].Trim();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The architecture below is what can be said then.
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
