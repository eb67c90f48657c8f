using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using KernelLab.Backends;
using KernelLab.Results;

namespace KernelLab.Suites;

/// <summary>What a result was measured on, and the machine's measured peaks. Nothing here throws: a fact that cannot be read is left out.</summary>
public static class MachineProbe
{
    /// <summary>The machine; <paramref name="probePeaks"/> measures FMA GFLOP/s and copy GB/s (about half a second).</summary>
    public static MachineInfo Describe(bool probePeaks = true)
    {
        var devices = Devices();
        string? visible = Variable("CUDA_VISIBLE_DEVICES");
        return new()
        {
            Host = Environment.MachineName,
            SlurmJob = SlurmJob(),
            CudaVisibleDevices = visible,
            Os = RuntimeInformation.OSDescription,
            Cpu = HostCpu.ModelName,
            Cores = Environment.ProcessorCount,
            Simd = SimdLevel(),
            Gpus = NvidiaGpus(visible),
            Dotnet = Environment.Version.ToString(),
            OpenclDevices = devices.Where(d => d.Backend == OpenClDevicesBackend)
                .Select(d => new OpenClDeviceInfo { Name = d.Name, Vendor = d.Vendor, Properties = d.Properties }).ToList(),
            Devices = devices,
            PeakGflops = probePeaks ? Math.Round(PeakFmaGflops(), 2) : null,
            PeakVectorBits = probePeaks ? PeakVectorBits : null,
            MemoryGbps = probePeaks ? Math.Round(CopyGbps(), 2) : null,
        };
    }

    public static string SimdLevel()
    {
        if (Avx512F.IsSupported)
            return "AVX-512";
        if (Avx2.IsSupported)
            return "AVX2";
        if (Sse.IsSupported)
            return "SSE";
        return AdvSimd.IsSupported ? "NEON" : "none";
    }

    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    /// <summary>The Slurm job this process is part of: ARRAYJOB_TASK for an array task, else JOBID; null outside Slurm.</summary>
    private static string? SlurmJob() =>
        Variable("SLURM_ARRAY_JOB_ID") is { } array && Variable(Sharding.TaskId) is { } task ? $"{array}_{task}" : Variable("SLURM_JOB_ID");

    /// <summary>
    /// nvidia-smi's GPUs (all of the machine's: nvidia-smi does not read CUDA_VISIBLE_DEVICES), each marked visible where
    /// <paramref name="cudaVisibleDevices"/> names it; none where nvidia-smi is not installed or fails.
    /// </summary>
    private static List<GpuInfo> NvidiaGpus(string? cudaVisibleDevices)
    {
        string? output = RunTool("nvidia-smi", "--query-gpu=name,driver_version,memory.total,index,uuid --format=csv,noheader,nounits");
        return output is null ? [] : ParseNvidiaSmi(output, cudaVisibleDevices);
    }

    /// <summary>nvidia-smi's CSV (name, driver, memory MiB, index, UUID), and which GPUs CUDA_VISIBLE_DEVICES names (by index, or by UUID or a prefix of one, as CUDA takes them).</summary>
    public static List<GpuInfo> ParseNvidiaSmi(string csv, string? cudaVisibleDevices)
    {
        string[]? named = cudaVisibleDevices?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(',', StringSplitOptions.TrimEntries))
            .Where(f => f.Length >= 1 && f[0].Length > 0)
            .Select(f =>
            {
                int? index = f.Length > 3 && int.TryParse(f[3], System.Globalization.CultureInfo.InvariantCulture, out int i) ? i : null;
                string? uuid = f.Length > 4 && f[4].Length > 0 ? f[4] : null;
                return new GpuInfo
                {
                    Name = f[0],
                    Driver = f.Length > 1 ? f[1] : null,
                    MemoryMib = f.Length > 2 && double.TryParse(f[2], System.Globalization.CultureInfo.InvariantCulture, out double m) ? m : null,
                    Index = index,
                    Uuid = uuid,
                    Visible = named?.Any(n => n == index?.ToString(System.Globalization.CultureInfo.InvariantCulture)
                        || (uuid is not null && n.StartsWith("GPU-", StringComparison.Ordinal) && uuid.StartsWith(n, StringComparison.Ordinal))),
                };
            })
            .ToList();
    }

    // The results field opencl_devices predates devices and keeps its meaning: the devices of the backend of this name.
    private const string OpenClDevicesBackend = "opencl";

    /// <summary>The devices of every backend that is available here, as the registry lists them (which never throws).</summary>
    private static List<DeviceRecord> Devices() =>
        BackendRegistry.All.Where(e => e.Probe().IsAvailable)
            .SelectMany(e => e.Devices().Select(d => new DeviceRecord
            {
                Backend = e.Name, Id = d.Id, Name = d.Name, Kind = d.Kind,
                Available = d.Availability.IsAvailable, Reason = d.Availability.Reason,
                Vendor = d.Vendor, Properties = d.Properties.Count > 0 ? d.Properties : null,
            }))
            .ToList();

    /// <summary>A tool's standard output, or null where it is not installed, fails or takes more than 10 s.</summary>
    public static string? RunTool(string name, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(name, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
                return null;
            var output = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
                return null;
            }
            return process.ExitCode == 0 ? output.Result : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return null; // not installed
        }
    }

    private const double ProbeSeconds = 0.2;

    /// <summary>
    /// The width of the vectors <see cref="PeakFmaGflops"/> runs: the widest the CPU has, as the runtime accelerates
    /// them (Vector512 emulated as two halves would measure the Vector256 rate under another name).
    /// </summary>
    public static int PeakVectorBits =>
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;

    /// <summary>
    /// float32 FMA throughput with every core busy, at <see cref="PeakVectorBits"/>: each thread keeps independent
    /// accumulators, enough to cover the FMA latency times the FMA units (16 with Vector512: two 512-bit units of 4
    /// cycles need 8, and 16 leave a margin within the 32 registers; 8 with Vector256 and Vector128), and counts 2 FLOP
    /// per lane per FMA. Each thread's best 10 ms window counts, so that a moment of sharing the core with
    /// another process lowers the figure less.
    /// </summary>
    public static double PeakFmaGflops()
    {
        int threads = Environment.ProcessorCount;
        var best = new double[threads];
        var sinks = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            var total = Stopwatch.StartNew();
            while (total.Elapsed.TotalSeconds < ProbeSeconds)
            {
                long start = Stopwatch.GetTimestamp();
                double flops = 0;
                while (Stopwatch.GetElapsedTime(start).TotalMilliseconds < 10)
                {
                    var (f, s) = FmaBurst(4096);
                    flops += f;
                    sinks[i] += s; // keeps the loop's result alive
                }
                best[i] = Math.Max(best[i], flops / Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
        });
        return best.Sum() / 1e9;
    }

    private static (double Flops, float Sink) FmaBurst(int iterations)
    {
        if (PeakVectorBits == 512)
            return FmaBurst512(iterations);
        if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(0.999f);
            var a = Vector256.Create(0.001f);
            Vector256<float> x0 = Vector256.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0;
            for (int i = 0; i < iterations; i++)
            {
                x0 = Vector256.FusedMultiplyAdd(x0, m, a); x1 = Vector256.FusedMultiplyAdd(x1, m, a);
                x2 = Vector256.FusedMultiplyAdd(x2, m, a); x3 = Vector256.FusedMultiplyAdd(x3, m, a);
                x4 = Vector256.FusedMultiplyAdd(x4, m, a); x5 = Vector256.FusedMultiplyAdd(x5, m, a);
                x6 = Vector256.FusedMultiplyAdd(x6, m, a); x7 = Vector256.FusedMultiplyAdd(x7, m, a);
            }
            var sum = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
            return ((double)iterations * 8 * Vector256<float>.Count * 2, Vector256.Sum(sum));
        }
        else
        {
            var m = Vector128.Create(0.999f);
            var a = Vector128.Create(0.001f);
            Vector128<float> x0 = Vector128.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0;
            for (int i = 0; i < iterations; i++)
            {
                x0 = Vector128.FusedMultiplyAdd(x0, m, a); x1 = Vector128.FusedMultiplyAdd(x1, m, a);
                x2 = Vector128.FusedMultiplyAdd(x2, m, a); x3 = Vector128.FusedMultiplyAdd(x3, m, a);
                x4 = Vector128.FusedMultiplyAdd(x4, m, a); x5 = Vector128.FusedMultiplyAdd(x5, m, a);
                x6 = Vector128.FusedMultiplyAdd(x6, m, a); x7 = Vector128.FusedMultiplyAdd(x7, m, a);
            }
            var sum = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
            return ((double)iterations * 8 * Vector128<float>.Count * 2, Vector128.Sum(sum));
        }
    }

    private static (double Flops, float Sink) FmaBurst512(int iterations)
    {
        var m = Vector512.Create(0.999f);
        var a = Vector512.Create(0.001f);
        Vector512<float> x0 = Vector512.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0;
        Vector512<float> x8 = x0, x9 = x0, x10 = x0, x11 = x0, x12 = x0, x13 = x0, x14 = x0, x15 = x0;
        for (int i = 0; i < iterations; i++)
        {
            x0 = Vector512.FusedMultiplyAdd(x0, m, a); x1 = Vector512.FusedMultiplyAdd(x1, m, a);
            x2 = Vector512.FusedMultiplyAdd(x2, m, a); x3 = Vector512.FusedMultiplyAdd(x3, m, a);
            x4 = Vector512.FusedMultiplyAdd(x4, m, a); x5 = Vector512.FusedMultiplyAdd(x5, m, a);
            x6 = Vector512.FusedMultiplyAdd(x6, m, a); x7 = Vector512.FusedMultiplyAdd(x7, m, a);
            x8 = Vector512.FusedMultiplyAdd(x8, m, a); x9 = Vector512.FusedMultiplyAdd(x9, m, a);
            x10 = Vector512.FusedMultiplyAdd(x10, m, a); x11 = Vector512.FusedMultiplyAdd(x11, m, a);
            x12 = Vector512.FusedMultiplyAdd(x12, m, a); x13 = Vector512.FusedMultiplyAdd(x13, m, a);
            x14 = Vector512.FusedMultiplyAdd(x14, m, a); x15 = Vector512.FusedMultiplyAdd(x15, m, a);
        }
        var sum = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11 + x12 + x13 + x14 + x15;
        return ((double)iterations * 16 * Vector512<float>.Count * 2, Vector512.Sum(sum));
    }

    /// <summary>Copy bandwidth over a buffer far larger than the caches, every core copying its share: bytes read plus bytes written per second.</summary>
    public static double CopyGbps()
    {
        const int length = 64 << 20; // 64 MiB each way
        var source = GC.AllocateUninitializedArray<byte>(length);
        var destination = GC.AllocateUninitializedArray<byte>(length);
        source.AsSpan().Fill(1);
        destination.AsSpan().Fill(0); // touch every page before timing
        int threads = Environment.ProcessorCount;
        int chunk = length / threads;
        double best = 0;
        var total = Stopwatch.StartNew();
        do
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
            {
                int start = i * chunk, count = i == threads - 1 ? length - start : chunk;
                source.AsSpan(start, count).CopyTo(destination.AsSpan(start, count));
            });
            best = Math.Max(best, 2.0 * length / sw.Elapsed.TotalSeconds / 1e9);
        }
        while (total.Elapsed.TotalSeconds < ProbeSeconds);
        return best;
    }
}
