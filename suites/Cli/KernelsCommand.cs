using System.CommandLine;
using System.Globalization;
using KernelLab.Backends;

namespace KernelLab.Cli;

/// <summary><c>kernellab kernels check</c>: builds every kernel source of a backend that compiles them at run time.</summary>
internal static class KernelsCommand
{
    public static Command Create(TextWriter stdout)
    {
        var backend = Options.Backend();
        var device = Options.Device();
        var check = new Command("check", "build every kernel source on the backend's device: one line per source, the log of each failure") { backend, device };
        check.SetAction(r =>
        {
            string name = r.GetValue(backend)!;
            using var instance = BackendRegistry.Create(name, r.GetValue(device));
            if (instance is not IKernelSourceChecker checker)
                throw new KernelLabException($"backend '{name}' compiles no kernel sources");

            stdout.WriteLine($"{name} on {instance.Info.Name}");
            var results = checker.CheckKernelSources();
            int width = results.Max(x => x.Source.Length) + 2;
            foreach (var result in results)
            {
                string ms = result.BuildTime.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture);
                stdout.WriteLine($"{result.Source.PadRight(width)}{(result.Succeeded ? "OK" : "FAILED"),-8}{ms,7} ms");
                if (!result.Succeeded)
                    foreach (var line in result.Log.Split('\n'))
                        stdout.WriteLine($"    {line.TrimEnd()}");
            }
            int failed = results.Count(x => !x.Succeeded);
            if (failed > 0)
                throw new KernelLabException($"{failed} of {results.Count} kernel sources of '{name}' failed to build (logs above)");
            return 0;
        });
        return new Command("kernels", "device kernel sources") { check };
    }
}
