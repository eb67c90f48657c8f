using System.CommandLine;
using System.Globalization;
using KernelLab.Backends;
using KernelLab.Backends.Cuda;

namespace KernelLab.Cli;

/// <summary>
/// <c>kernellab kernels check</c>: builds every kernel source of a backend that compiles them at run time, or of every
/// such backend of the registry (opencl: on the device; cuda: with NVRTC for compute_80 and compute_90, no GPU needed).
/// <c>kernels ptx</c> writes the CUDA PTX that a published build carries for GPU machines without NVRTC.
/// </summary>
internal static class KernelsCommand
{
    public static Command Create(TextWriter stdout)
    {
        var backend = new Option<string?>("--backend") { Description = "backend name (see 'kernellab backends'); default: every backend that compiles kernel sources" };
        var device = Options.Device();
        var check = new Command("check", "build every kernel source of the backend: one line per build, the log of each failure") { backend, device };
        check.SetAction(r =>
        {
            string? name = r.GetValue(backend);
            string? choice = r.GetValue(device);
            if (name is not null)
            {
                Check(BackendRegistry.Find(name), choice, stdout);
                return 0;
            }
            if (choice is not null)
                throw new KernelLabException($"--device {choice} names a device of one backend: give --backend too");
            // Every backend that compiles kernels, each checked even where another failed.
            var failed = new List<string>();
            foreach (var entry in BackendRegistry.All.Where(e => e.KernelSources is not null))
            {
                try
                {
                    Check(entry, null, stdout);
                }
                catch (KernelLabException e)
                {
                    stdout.WriteLine($"{entry.Name}: {e.Message}");
                    failed.Add(entry.Name);
                }
            }
            return failed.Count == 0 ? 0 : throw new KernelLabException($"kernel sources of {string.Join(", ", failed)} did not build (above)");
        });

        var output = Options.Required("--out", "directory to write <architecture>/<source>.ptx into");
        var ptx = new Command("ptx", "compile every CUDA kernel source to PTX for a published build (compute_70, compute_80, compute_90)") { output };
        ptx.SetAction(r =>
        {
            var written = CudaKernels.WritePtx(r.GetValue(output)!, CudaKernels.ShippedArchitectures);
            stdout.WriteLine($"{written.Count} PTX files written to {r.GetValue(output)} (NVRTC: {CudaKernels.DescribeNvrtc()})");
            return 0;
        });
        return new Command("kernels", "device kernel sources of the backends that compile them at run time") { check, ptx };
    }

    /// <summary>Builds every kernel source of <paramref name="entry"/>: one line per build, the log of each failure; throws when one failed.</summary>
    private static void Check(BackendEntry entry, string? device, TextWriter stdout)
    {
        if (entry.KernelSources is null)
            throw new KernelLabException($"backend '{entry.Name}' compiles no kernel sources");
        using var checker = entry.KernelSources(device);

        stdout.WriteLine($"{entry.Name}: {checker.CompilerDescription}");
        var results = checker.CheckKernelSources();
        int sourceWidth = results.Max(x => x.Source.Length) + 2, targetWidth = results.Max(x => x.Target.Length) + 2;
        foreach (var result in results)
        {
            string ms = result.BuildTime.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture);
            stdout.WriteLine($"{result.Source.PadRight(sourceWidth)}{result.Target.PadRight(targetWidth)}{(result.Succeeded ? "OK" : "FAILED"),-8}{ms,7} ms");
            if (!result.Succeeded)
                foreach (var line in result.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    stdout.WriteLine($"    {line.TrimEnd()}");
        }
        int failed = results.Count(x => !x.Succeeded);
        if (failed > 0)
            throw new KernelLabException($"{failed} of {results.Count} kernel builds of '{entry.Name}' failed (logs above)");
        stdout.WriteLine($"{results.Count} of {results.Count} kernel builds succeeded");
    }
}
