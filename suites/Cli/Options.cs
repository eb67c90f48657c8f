using System.CommandLine;

namespace KernelLab.Cli;

/// <summary>The options that several verbs share, spelled once.</summary>
internal static class Options
{
    public static Option<string> Required(string name, string description) =>
        new(name) { Required = true, Description = description };

    public static Option<string> Config() => Required("--config", "model config JSON (shared/spec/MODELS.md)");

    public static Option<string> Backend() => Required("--backend", "backend name (see 'kernellab backends')");

    /// <summary>The device of backends with a choice of device (opencl: platformIndex:deviceIndex or a name substring; overrides KERNELLAB_OPENCL_DEVICE).</summary>
    public static Option<string?> Device() => new("--device") { Description = "device of the backend: platformIndex:deviceIndex or part of its name (default: KERNELLAB_OPENCL_DEVICE, else the first GPU, else the first device)" };

    public static Option<string> Params() => Required("--params", "parameters, safetensors, named as PyTorch's state_dict");

    public static Option<string> Batch() => Required("--batch", "batch, safetensors with x and y");

    public static Option<ulong> Seed() => new("--seed") { Description = "seed of the generator", DefaultValueFactory = _ => 0 };
}
