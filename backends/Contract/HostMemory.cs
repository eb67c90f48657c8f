using System.Globalization;

namespace KernelLab.Backends;

/// <summary>How much memory this process can still take from the machine: what allocations are checked against.</summary>
public static class HostMemory
{
    /// <summary>
    /// MemAvailable of /proc/meminfo (what the kernel can give without swapping), lowered to the room left under a
    /// cgroup v2 limit (a container's or a Slurm job's memory.max); elsewhere the runtime's view of the memory it may
    /// use. Never throws.
    /// </summary>
    public static long AvailableBytes()
    {
        long available = ReadMemInfo("MemAvailable:") ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (ReadCgroup("memory.max") is { } max && ReadCgroup("memory.current") is { } current)
            available = Math.Min(available, Math.Max(0, max - current));
        return available;
    }

    private static long? ReadMemInfo(string key)
    {
        try
        {
            if (!File.Exists("/proc/meminfo"))
                return null;
            string? line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
            string[]? parts = line?[key.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return parts is [var kib, "kB"] && long.TryParse(kib, NumberStyles.None, CultureInfo.InvariantCulture, out long k) ? k * 1024 : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>A value of this process's cgroup v2 folder; null where there is none or it says "max".</summary>
    private static long? ReadCgroup(string file)
    {
        try
        {
            if (!File.Exists("/proc/self/cgroup"))
                return null;
            string? line = File.ReadLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal));
            if (line is null)
                return null;
            string path = Path.Combine("/sys/fs/cgroup", line[3..].TrimStart('/'), file);
            return File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>"1.5 GB" (decimal units, as memory is sold and as nvidia-smi prints it).</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= 1_000_000_000_000 => (bytes / 1e12).ToString("0.0", CultureInfo.InvariantCulture) + " TB",
        >= 1_000_000_000 => (bytes / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + " GB",
        >= 1_000_000 => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
        >= 1_000 => (bytes / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " kB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
