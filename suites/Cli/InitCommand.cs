using System.CommandLine;
using KernelLab.Backends;
using KernelLab.Backends.Reference;
using KernelLab.Models;
using KernelLab.Models.Networks;

namespace KernelLab.Cli;

/// <summary><c>kernellab init</c>: seeded parameters with PyTorch's default distributions, for any config.</summary>
internal static class InitCommand
{
    public static Command Create(TextWriter stdout)
    {
        var config = Options.Config();
        var seed = Options.Seed();
        var output = Options.Required("--out", "parameter file to write (safetensors, F32)");
        var command = new Command("init", "write seeded parameters for a config (PyTorch's default initialisation)") { config, seed, output };
        command.SetAction(r =>
        {
            var model = ModelConfig.Load(r.GetValue(config)!);
            using var backend = new ReferenceBackend();
            using var network = Network.Create(backend, model, new BatchShape(1, 1));
            network.Initialize(r.GetValue(seed));
            network.Parameters.ToSafetensors().Write(r.GetValue(output)!);
            stdout.WriteLine($"{network.Parameters.All.Sum(p => p.Length)} parameters of a {model.Family} model written to {r.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
