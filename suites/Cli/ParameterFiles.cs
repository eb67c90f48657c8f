using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Safetensors;

namespace KernelLab.Cli;

internal static class ParameterFiles
{
    /// <summary>Writes every parameter as F32 under its PyTorch name, so PyTorch's load_state_dict takes the file as it is.</summary>
    public static void Write(ParameterSet parameters, Backend backend, string path)
    {
        var writer = new SafetensorsWriter();
        foreach (var p in parameters.All)
        {
            var values = new float[p.Length];
            backend.CopyOut(p.Value, values);
            writer.Add(p.Name, p.Shape.ToArray(), values);
        }
        writer.Write(path);
    }
}
