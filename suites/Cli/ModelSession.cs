using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Networks;
using KernelLab.Models.Safetensors;

namespace KernelLab.Cli;

/// <summary>A config, its parameters and a batch, checked and loaded into a network on one backend.</summary>
internal sealed class ModelSession : IDisposable
{
    private ModelSession(Backend backend, Network network)
    {
        Backend = backend;
        Network = network;
    }

    public Backend Backend { get; }

    public Network Network { get; }

    /// <summary>Reads and checks every input file before the backend is created, so bad input fails fast.</summary>
    public static ModelSession Open(string configPath, string paramsPath, string batchPath, string backendName, string? device, OptimizerSettings? optimizer = null)
    {
        var config = ModelConfig.Load(configPath);
        BackendRegistry.Find(backendName);
        var parameters = SafetensorsFile.Read(paramsPath);
        var batch = Batch.Load(batchPath, config);
        var backend = BackendRegistry.Create(backendName, device);
        Network? network = null;
        try
        {
            network = Network.Create(backend, config, batch.Shape, optimizer);
            network.LoadParameters(parameters);
            network.LoadBatch(batch);
            return new ModelSession(backend, network);
        }
        catch
        {
            network?.Dispose();
            backend.Dispose();
            throw;
        }
    }

    /// <summary>Throws a one-line error when a value is NaN or infinite.</summary>
    public static void RequireFinite(string what, ReadOnlySpan<double> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!double.IsFinite(values[i]))
                throw new KernelLabException($"{what} is {values[i]} at flat index {i}: the result is not finite");
    }

    public void Dispose()
    {
        Network.Dispose();
        Backend.Dispose();
    }
}
