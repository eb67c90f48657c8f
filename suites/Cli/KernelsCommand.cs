using System.CommandLine;
using System.Globalization;
using KernelLab.Backends;
using KernelLab.Backends.Cuda;

namespace KernelLab.Cli;

/// <summary>
/// <c>kernellab kernels check --backend cuda</c>: compiles every CUDA kernel source with NVRTC for each checked
/// architecture. Needs NVRTC but no GPU and no driver, so CI runs it. <c>kernels ptx</c> writes the PTX that a published
/// build carries for GPU machines without NVRTC.
/// </summary>
internal static class KernelsCommand
{
    public static Command Create(TextWriter stdout)
    {
        var backend = Options.Backend();
        var check = new Command("check", "compile every kernel source of a backend without running it (cuda: NVRTC for compute_80 and compute_90)") { backend };
        check.SetAction(r =>
        {
            string name = r.GetValue(backend)!;
            RequireCuda(name, "check");

            var results = CudaKernels.CheckSources(CudaKernels.CheckedArchitectures);
            int width = results.Max(x => x.Source.Length) + 2;
            foreach (var result in results)
            {
                string ms = result.Milliseconds.ToString("F0", CultureInfo.InvariantCulture);
                stdout.WriteLine($"{name}  {result.Architecture}  {result.Source.PadRight(width)}{(result.Succeeded ? "ok" : "FAILED"),-8}{ms,6} ms");
                if (!result.Succeeded)
                    foreach (string line in result.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                        stdout.WriteLine($"    {line.TrimEnd()}");
            }
            int failed = results.Count(x => !x.Succeeded);
            string summary = $"{results.Count - failed} of {results.Count} compilations succeeded (NVRTC: {CudaKernels.DescribeNvrtc()})";
            if (failed > 0)
                throw new KernelLabException($"kernels check: {failed} compilations failed; {summary}");
            stdout.WriteLine(summary);
            return 0;
        });

        var ptxBackend = Options.Backend();
        var output = Options.Required("--out", "directory to write <architecture>/<source>.ptx into");
        var ptx = new Command("ptx", "compile every CUDA kernel source to PTX for a published build (compute_70, compute_80, compute_90)") { ptxBackend, output };
        ptx.SetAction(r =>
        {
            RequireCuda(r.GetValue(ptxBackend)!, "ptx");
            var written = CudaKernels.WritePtx(r.GetValue(output)!, CudaKernels.ShippedArchitectures);
            stdout.WriteLine($"{written.Count} PTX files written to {r.GetValue(output)} (NVRTC: {CudaKernels.DescribeNvrtc()})");
            return 0;
        });
        return new Command("kernels", "device kernel sources of the backends that compile them at run time") { check, ptx };
    }

    private static void RequireCuda(string name, string verb)
    {
        BackendRegistry.Find(name);
        if (name != CudaBackend.RegistryName)
            throw new KernelLabException($"kernels {verb}: backend '{name}' has no kernel sources here; expected {CudaBackend.RegistryName}");
    }
}
