using System.Collections.Concurrent;
using System.Diagnostics;
using KernelLab.Backends.Cuda.Native;

namespace KernelLab.Backends.Cuda;

/// <summary>
/// The CUDA C sources of <c>kernels/cuda</c>, embedded in this assembly, and their compilation by NVRTC: checked for any
/// architecture without a GPU (<see cref="CheckSources"/>), and compiled to PTX once per architecture for the process.
/// </summary>
public static class CudaKernels
{
    /// <summary>The architectures every source must compile for (<c>kernellab kernels check --backend cuda</c>, CI).</summary>
    public static IReadOnlyList<string> CheckedArchitectures { get; } = ["compute_80", "compute_90"];

    private const string ResourcePrefix = "kernels/cuda/";

    /// <summary>Every kernel source (the <c>.cu</c> files), by file name.</summary>
    public static IReadOnlyList<string> SourceNames { get; } =
        [.. Resources().Where(n => n.EndsWith(".cu", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    /// <summary>The headers the sources include, handed to NVRTC by name.</summary>
    private static readonly Lazy<(string Name, string Text)[]> Headers =
        new(() => [.. Resources().Where(n => n.EndsWith(".cuh", StringComparison.Ordinal)).Select(n => (n, Source(n)))]);

    private static IEnumerable<string> Resources() =>
        typeof(CudaKernels).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..]);

    public static string Source(string name)
    {
        using var stream = typeof(CudaKernels).Assembly.GetManifestResourceStream(ResourcePrefix + name)
            ?? throw new ArgumentException($"no kernel source '{name}'", nameof(name));
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Compiles every source for every architecture with NVRTC; needs no GPU and no driver. A source that does not compile
    /// is a result with its log; no NVRTC on the machine throws <see cref="KernelLabException"/>.
    /// </summary>
    public static IReadOnlyList<KernelCheckResult> CheckSources(IEnumerable<string> architectures)
    {
        var nvrtc = Nvrtc.Load(driverVersion: null);
        var results = new List<KernelCheckResult>();
        foreach (string architecture in architectures)
        {
            foreach (string source in SourceNames)
            {
                long start = Stopwatch.GetTimestamp();
                var compilation = Compile(nvrtc, source, architecture);
                string log = compilation.Succeeded ? compilation.Log : $"{compilation.ErrorName}: {compilation.Log}";
                results.Add(new KernelCheckResult(source, architecture, compilation.Succeeded, Stopwatch.GetElapsedTime(start), log));
            }
        }
        return results;
    }

    /// <summary>The NVRTC library found here, described for a report ("libnvrtc.so.11.2, CUDA 11.8").</summary>
    public static string DescribeNvrtc()
    {
        var nvrtc = Nvrtc.Load(driverVersion: null);
        return $"{nvrtc.Path}, CUDA {nvrtc.Version}";
    }

    private static Nvrtc.Compilation Compile(Nvrtc nvrtc, string source, string architecture) =>
        nvrtc.Compile(source, Source(source), Headers.Value, [$"--gpu-architecture={architecture}"]);

    /// <summary>The architectures a published build ships PTX for (tools/publish-gpu.sh): a device takes the newest not above its own.</summary>
    public static IReadOnlyList<string> ShippedArchitectures { get; } = ["compute_70", "compute_80", "compute_90"];

    /// <summary>Where a published build keeps its PTX: <c>ptx/&lt;architecture&gt;/&lt;source&gt;.ptx</c> beside the executable.</summary>
    public static string ShippedPtxDirectory => System.IO.Path.Combine(AppContext.BaseDirectory, "ptx");

    /// <summary>
    /// Compiles every source with NVRTC for each architecture and writes <c>directory/&lt;architecture&gt;/&lt;source&gt;.ptx</c>, so that
    /// a GPU machine without NVRTC can still load the kernels. Returns the files written; a compile error throws.
    /// </summary>
    public static IReadOnlyList<string> WritePtx(string directory, IEnumerable<string> architectures)
    {
        var nvrtc = Nvrtc.Load(driverVersion: null);
        var written = new List<string>();
        foreach (string architecture in architectures)
        {
            string folder = System.IO.Path.Combine(directory, architecture);
            Directory.CreateDirectory(folder);
            foreach (var (source, ptx) in Ptx(nvrtc, architecture))
            {
                string path = System.IO.Path.Combine(folder, source + ".ptx");
                File.WriteAllText(path, ptx);
                written.Add(path);
            }
        }
        return written;
    }

    /// <summary>
    /// The PTX that <see cref="WritePtx"/> wrote under <paramref name="directory"/> for the newest architecture not above
    /// <paramref name="deviceArchitecture"/> (86 for 8.6), or null where there is none.
    /// </summary>
    internal static (string Architecture, IReadOnlyDictionary<string, string> Ptx)? ShippedPtx(string directory, int deviceArchitecture)
    {
        if (!Directory.Exists(directory))
            return null;
        var best = Directory.GetDirectories(directory, "compute_*")
            .Select(d => (Path: d, Architecture: int.TryParse(System.IO.Path.GetFileName(d)["compute_".Length..], out int a) ? a : int.MaxValue))
            .Where(d => d.Architecture <= deviceArchitecture)
            .OrderByDescending(d => d.Architecture)
            .FirstOrDefault();
        if (best.Path is null)
            return null;
        var ptx = SourceNames.ToDictionary(s => s, s => File.ReadAllText(System.IO.Path.Combine(best.Path, s + ".ptx")));
        return ($"compute_{best.Architecture}", ptx);
    }

    // PTX per (NVRTC library, architecture) and source: compiled once for the process, loaded into each backend's context.
    private static readonly ConcurrentDictionary<(string Nvrtc, string Architecture), Lazy<IReadOnlyDictionary<string, string>>> PtxCache = new();

    /// <summary>The PTX of every source for <paramref name="architecture"/>; a compile error throws <see cref="CudaException"/> with NVRTC's log.</summary>
    internal static IReadOnlyDictionary<string, string> Ptx(Nvrtc nvrtc, string architecture) =>
        PtxCache.GetOrAdd((nvrtc.Path, architecture), key => new Lazy<IReadOnlyDictionary<string, string>>(() =>
        {
            var ptx = new Dictionary<string, string>();
            foreach (string source in SourceNames)
            {
                var compilation = Compile(nvrtc, source, key.Architecture);
                if (!compilation.Succeeded)
                    throw new CudaException(compilation.ErrorName!, $"nvrtcCompileProgram({source}, {key.Architecture})", log: compilation.Log);
                ptx[source] = compilation.Ptx!;
            }
            return ptx;
        })).Value;
}
