using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Safetensors;

namespace KernelLab.Cli;

internal static class ParameterFiles
{
    /// <summary>Writes every parameter as F32 under its PyTorch name, so PyTorch's load_state_dict takes the file as it is.</summary>
    public static void Write(ParameterSet parameters, Backend backend, string path) => Writer(parameters, backend).Write(path);

    /// <summary>The parameter file, ready to write, as <see cref="Write"/> writes it.</summary>
    public static SafetensorsWriter Writer(ParameterSet parameters, Backend backend)
    {
        var writer = new SafetensorsWriter();
        foreach (var p in parameters.All)
        {
            var values = new float[p.Length];
            backend.CopyOut(p.Value, values);
            writer.Add(p.Name, p.Shape.ToArray(), values);
        }
        return writer;
    }
}
