using System.CommandLine;
using System.Globalization;
using KernelLab.Backends;
using KernelLab.Backends.Cuda;

namespace KernelLab.Cli;

/// <summary>
/// <c>kernellab kernels check --backend cuda</c>: compiles every CUDA kernel source with NVRTC for each checked
/// architecture. Needs NVRTC but no GPU and no driver, so CI runs it.
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
            BackendRegistry.Find(name);
            if (name != CudaBackend.RegistryName)
                throw new KernelLabException($"kernels check: backend '{name}' has no kernel sources to check; expected {CudaBackend.RegistryName}");

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
        return new Command("kernels", "device kernel sources of the backends that compile them at run time") { check };
    }
}
