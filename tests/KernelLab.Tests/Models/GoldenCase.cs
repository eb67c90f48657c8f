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

    /// <summary>Each trajectory of the case's train.json.</summary>
    public IEnumerable<GoldenTrajectory> Trajectories()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(FilePath("train.json")));
        foreach (var t in doc.RootElement.GetProperty("trajectories").EnumerateArray())
        {
            var optimizer = t.GetProperty("optimizer");
            var settings = Optimizer.ParseSettings(optimizer, FilePath("train.json"));
            double[] Numbers(JsonElement e) => e.ValueKind == JsonValueKind.Array ? [.. e.EnumerateArray().Select(l => l.GetDouble())] : [e.GetDouble()];
            yield return new GoldenTrajectory(settings, LearningRateSchedule.Parse(optimizer, FilePath("train.json")), Numbers(t.GetProperty("losses")),
                t.TryGetProperty("lrs", out var lrs) ? Numbers(lrs) : null,
                t.TryGetProperty("buffers", out var buffers) ? buffers.EnumerateObject().ToDictionary(b => b.Name, b => Numbers(b.Value)) : null,
                t.TryGetProperty("eval_loss", out var evalLoss) ? evalLoss.GetDouble() : null);
        }
    }
}

/// <summary>
/// One of PyTorch's 5-step trajectories: the optimizer, its schedule (or null), the loss before each step and, with a schedule,
/// the rate of each step; with batch norm, its buffers after the last step (num_batches_tracked as one number) and the loss
/// in eval mode then.
/// </summary>
public sealed record GoldenTrajectory(OptimizerSettings Settings, LearningRateSchedule? Schedule, double[] Losses, double[]? Lrs,
    Dictionary<string, double[]>? Buffers, double? EvalLoss);

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

    /// <summary>Every buffer's values and every counter (as one number), by name: batch norm's running statistics.</summary>
    public static Dictionary<string, double[]> Buffers(Network network) =>
        network.Parameters.Buffers.Select(b => (b.Name, Values: network.Backend.Download(b.Value)))
            .Concat(network.Parameters.Counters.Select(c => (c.Name, Values: new double[] { c.Value })))
            .ToDictionary(b => b.Name, b => b.Values);

    /// <summary>The mean loss of the loaded batch in eval mode (<see cref="Network.Score"/>).</summary>
    public static double EvalLoss(Network network)
    {
        var (lossSum, _, rows) = network.Score(network.Shape.Batch);
        return lossSum / rows;
    }

    /// <summary>The loss before each of <paramref name="steps"/> optimizer steps on the loaded batch.</summary>
    public static double[] Train(Network network, OptimizerSettings settings, int steps) => Train(network, settings, null, steps).Losses;

    /// <summary>The loss before each step and the learning rate of each step, with a schedule.</summary>
    public static (double[] Losses, double[] Lrs) Train(Network network, OptimizerSettings settings, LearningRateSchedule? schedule, int steps)
    {
        using var optimizer = new Optimizer(network.Backend, network.Parameters.All, settings, schedule);
        var (losses, lrs) = (new double[steps], new double[steps]);
        for (int s = 0; s < steps; s++)
        {
            lrs[s] = optimizer.LearningRate;
            losses[s] = optimizer.Step(network);
        }
        return (losses, lrs);
    }

    public static void AssertMatches(ComparisonResult result) => Assert.True(result.Passed, result.ToString());
}
