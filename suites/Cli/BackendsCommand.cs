using System.CommandLine;
using KernelLab.Backends;

namespace KernelLab.Cli;

/// <summary><c>kernellab backends</c>: every backend of the registry, available or not, and why not.</summary>
internal static class BackendsCommand
{
    public static Command Create(TextWriter stdout)
    {
        var command = new Command("backends", "list every backend, available or not, and why not");
        command.SetAction(_ =>
        {
            int width = BackendRegistry.Names.Max(n => n.Length) + 2;
            foreach (var entry in BackendRegistry.All)
            {
                var availability = entry.Probe();
                string detail;
                if (availability.IsAvailable)
                {
                    using var backend = entry.Create();
                    var info = backend.Info;
                    detail = $"available    {info.Name} ({info.Kind}, {info.Precision}, {info.ComputeUnits} compute units)";
                }
                else
                {
                    detail = $"unavailable  {availability.Reason}";
                }
                stdout.WriteLine($"{entry.Name.PadRight(width)}{detail}  [{entry.Description}]");
            }
            return 0;
        });
        return command;
    }
}
