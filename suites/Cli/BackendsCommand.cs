using System.CommandLine;
using KernelLab.Backends;

namespace KernelLab.Cli;

/// <summary>
/// <c>kernellab backends</c>: every backend of the registry, available or not and why not, and under each its devices,
/// indented, with the id that <c>--device</c> takes and, for a device that cannot be used, why.
/// </summary>
internal static class BackendsCommand
{
    public const string DeviceIndent = "    ";

    public static Command Create(TextWriter stdout)
    {
        var command = new Command("backends", "list every backend and its devices, available or not, and why not");
        command.SetAction(_ =>
        {
            int width = BackendRegistry.Names.Max(n => n.Length) + 2;
            foreach (var entry in BackendRegistry.All)
            {
                stdout.WriteLine($"{entry.Name.PadRight(width)}{Describe(entry)}  [{entry.Description}; reruns: {entry.Reproducibility}]");
                var devices = entry.Devices();
                if (devices.Count == 0)
                    continue;
                int idWidth = devices.Max(d => d.Id.Length) + 2, kindWidth = devices.Max(d => d.Kind.Length) + 2, nameWidth = devices.Max(d => d.Name.Length) + 2;
                foreach (var device in devices)
                    stdout.WriteLine($"{DeviceIndent}{device.Id.PadRight(idWidth)}{device.Kind.PadRight(kindWidth)}{device.Name.PadRight(nameWidth)}{State(device.Availability)}");
            }
            return 0;
        });
        return command;
    }

    /// <summary>The backend's state, and for one that can run, what its default device says of itself.</summary>
    private static string Describe(BackendEntry entry)
    {
        var availability = entry.Probe();
        if (!availability.IsAvailable)
            return State(availability);
        try
        {
            using var backend = entry.Create();
            var info = backend.Info;
            return $"{State(availability)}    {info.Name} ({info.Kind}, {info.Precision}, {info.ComputeUnits} compute units)";
        }
        catch (KernelLabException e)
        {
            return State(Availability.No(e.Message));
        }
    }

    private static string State(Availability availability) =>
        availability.IsAvailable ? "available" : $"unavailable  {availability.Reason}";
}
