using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Networks;
using KernelLab.Models.Safetensors;
using KernelLab.Models.Training;

namespace KernelLab.Tests;

/// <summary>
/// One case written by tools/torch_golden.py: a config, float32 parameters, a batch, PyTorch's float64
/// gradients and loss, and loss trajectories of 5 optimizer steps.
/// </summary>
public sealed class GoldenCase
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "fixtures", "golden");

    private GoldenCase(string name)
    {
        Name = name;
        Config = ModelConfig.Load(FilePath("config.json"));
        Parameters = SafetensorsFile.Read(FilePath("params.safetensors"));
        Batch = KernelLab.Models.Batch.Load(FilePath("batch.safetensors"), Config);
        Gradients = SafetensorsFile.Read(FilePath("grads.safetensors"));
    }

    public string Name { get; }

    public ModelConfig Config { get; }

    public SafetensorsFile Parameters { get; }

    public Batch Batch { get; }

    public SafetensorsFile Gradients { get; }

    /// <summary>Every case in the fixture folder: all four families at odd sizes.</summary>
    public static string[] All { get; } =
        Directory.GetFiles(Folder, "*.config.json").Select(f => Path.GetFileName(f)[..^".config.json".Length]).Order().ToArray();

    public static TheoryData<string> Names => new(All);

    public static GoldenCase Load(string name) => new(name);

    public string FilePath(string suffix) => Path.Combine(Folder, $"{Name}.{suffix}");

    /// <summary>The network of this case on <paramref name="backend"/>, with its parameters and batch loaded.</summary>
    public Network Open(Backend backend)
    {
        var network = Network.Create(backend, Config, Batch.Shape);
        network.LoadParameters(Parameters);
        network.LoadBatch(Batch);
        return network;
    }

    public IEnumerable<(OptimizerSettings Settings, double[] Losses)> Trajectories()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(FilePath("train.json")));
        foreach (var t in doc.RootElement.GetProperty("trajectories").EnumerateArray())
        {
            var settings = Optimizer.ParseSettings(t.GetProperty("optimizer"), FilePath("train.json"));
            yield return (settings, t.GetProperty("losses").EnumerateArray().Select(l => l.GetDouble()).ToArray());
        }
    }
}

/// <summary>Running a network and reading its results back, for tests.</summary>
public static class NetworkResults
{
    /// <summary>The loss and every parameter's gradient, by parameter name.</summary>
    public static (double Loss, Dictionary<string, double[]> Gradients) Gradients(Network network)
    {
        double loss = network.ComputeGradients();
        var grads = network.Parameters.All.ToDictionary(p => p.Name, p => network.Backend.Download(p.Grad));
        return (loss, grads);
    }

    /// <summary>The loss before each of <paramref name="steps"/> optimizer steps on the loaded batch.</summary>
    public static double[] Train(Network network, OptimizerSettings settings, int steps)
    {
        using var optimizer = new Optimizer(network.Backend, network.Parameters.All, settings);
        var losses = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            losses[s] = network.ComputeGradients();
            optimizer.Step();
        }
        return losses;
    }

    public static void AssertMatches(ComparisonResult result) => Assert.True(result.Passed, result.ToString());
}
