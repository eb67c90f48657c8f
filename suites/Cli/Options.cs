using System.CommandLine;
using KernelLab.Backends;

namespace KernelLab.Cli;

/// <summary>The options that several verbs share, spelled once.</summary>
internal static class Options
{
    public static Option<string> Required(string name, string description) =>
        new(name) { Required = true, Description = description };

    public static Option<string> Config() => Required("--config", "model config JSON (shared/spec/MODELS.md)");

    public static Option<string> Backend() => Required("--backend", "backend name (see 'kernellab backends')");

    /// <summary>A device id as <c>kernellab backends</c> lists it (opencl also takes part of a device or platform name; overrides KERNELLAB_OPENCL_DEVICE).</summary>
    public static Option<string?> Device() => new("--device") { Description = "device of the backend, an id as 'kernellab backends' lists it; opencl also takes part of a device or platform name (default: KERNELLAB_OPENCL_DEVICE, else the first GPU, else the first device)" };

    public static Option<string> Params() => Required("--params", "parameters, safetensors, named as PyTorch's state_dict");

    public static Option<string> Batch() => Required("--batch", "batch, safetensors with x and y");

    /// <summary>The names of a comma-separated option value, trimmed, empty ones left out.</summary>
    public static string[] List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static Option<ulong> Seed() => new("--seed") { Description = "seed of the generator", DefaultValueFactory = _ => 0 };
}

/// <summary>The inputs of a command that opens a <see cref="ModelSession"/>: --config, --params, --batch, --backend and --device.</summary>
internal sealed class ModelSessionOptions
{
    private readonly Option<string> _config = Options.Config(), _params = Options.Params(), _batch = Options.Batch(), _backend = Options.Backend();
    private readonly Option<string?> _device = Options.Device();
    private readonly Option<ulong> _seed = new("--seed") { Description = "seed of the dropout masks (MODELS.md, \"Training blocks\")", DefaultValueFactory = _ => 1 };

    /// <summary>Puts the six options first among <paramref name="command"/>'s, as its help lists them.</summary>
    public void AddTo(Command command)
    {
        Option[] all = [_config, _params, _batch, _backend, _device, _seed];
        for (int i = 0; i < all.Length; i++)
            command.Options.Insert(i, all[i]);
    }

    /// <param name="optimizer">The optimizer of a session that trains: its state is part of the memory the network is checked to fit in.</param>
    public ModelSession Open(ParseResult r, OptimizerSettings? optimizer = null)
    {
        var session = ModelSession.Open(r.GetValue(_config)!, r.GetValue(_params)!, r.GetValue(_batch)!, r.GetValue(_backend)!, r.GetValue(_device), optimizer);
        session.Network.Seed = r.GetValue(_seed);
        return session;
    }
}
