using KernelLab.Backends;
using KernelLab.Backends.Reference;
using KernelLab.Models;
using KernelLab.Models.Networks;
using KernelLab.Models.Safetensors;
using KernelLab.Models.Training;

namespace KernelLab.Tests;

/// <summary>Train and eval mode, and batch norm's buffers in parameters files and checkpoints.</summary>
public sealed class TrainingBlockTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("kernellab-blocks-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static Network Golden(Backend backend, string name) => GoldenCase.Load(name).Open(backend);

    [Fact]
    public void TrainModeUpdatesTheRunningStatisticsAndEvalModeReadsThemWithoutChangingThem()
    {
        using var backend = new ReferenceBackend();
        using var network = Golden(backend, "cnn_bn");
        var before = NetworkResults.Buffers(network);
        Assert.All(network.Parameters.Counters, c => Assert.Equal(0, c.Value));

        double eval = NetworkResults.EvalLoss(network);
        Assert.Equal(before, NetworkResults.Buffers(network)); // eval mode changes nothing
        Assert.Equal(eval, NetworkResults.EvalLoss(network));  // and draws no mask

        network.ComputeGradients();
        var after = NetworkResults.Buffers(network);
        Assert.All(network.Parameters.Counters, c => Assert.Equal(1, c.Value));
        Assert.NotEqual(before["bn1.running_mean"], after["bn1.running_mean"]);
        Assert.NotEqual(eval, NetworkResults.EvalLoss(network)); // the new running statistics
    }

    /// <summary>Eval mode has no dropout: a model with dropout scores as the same model without it; train mode does not.</summary>
    [Fact]
    public void EvalModeHasNoDropout()
    {
        var golden = GoldenCase.Load("mlp_drop");
        using var backend = new ReferenceBackend();
        using var dropped = golden.Open(backend);
        using var plain = Network.Create(backend, ((MlpConfig)golden.Config) with { Dropout = 0 }, golden.Batch.Shape);
        plain.LoadParameters(golden.Parameters);
        plain.LoadBatch(golden.Batch);
        Assert.Equal(NetworkResults.EvalLoss(plain), NetworkResults.EvalLoss(dropped));
        Assert.NotEqual(plain.ComputeLoss(), dropped.ComputeLoss());
        // Another seed or step draws other masks, so another train-mode loss.
        double first = dropped.ComputeLoss();
        dropped.Step = 2;
        Assert.NotEqual(first, dropped.ComputeLoss());
        dropped.Step = 1;
        Assert.Equal(first, dropped.ComputeLoss());
        dropped.Seed = 7;
        Assert.NotEqual(first, dropped.ComputeLoss());
    }

    [Fact]
    public void AParametersFileHoldsTheBuffersAsStateDictDoesAndLoadsBack()
    {
        using var backend = new ReferenceBackend();
        using var network = Golden(backend, "mlp_bn");
        using (var optimizer = new Optimizer(backend, network.Parameters.All, OptimizerSettings.Defaults(OptimizerKind.AdamW, 0.01)))
            for (int i = 0; i < 3; i++)
                optimizer.Step(network);
        string path = Path.Combine(_folder, "trained.safetensors");
        network.Parameters.ToSafetensors().Write(path);

        var file = SafetensorsFile.Read(path);
        Assert.Equal(DType.I64, file.Info("bn1.num_batches_tracked").DType);
        Assert.Empty(file.Info("bn1.num_batches_tracked").Shape);
        Assert.Equal(DType.F32, file.Info("bn2.running_var").DType);

        using var loaded = Golden(backend, "mlp_bn");
        loaded.LoadParameters(file);
        var (expected, actual) = (NetworkResults.Buffers(network), NetworkResults.Buffers(loaded));
        Assert.Equal(3, actual["bn1.num_batches_tracked"][0]);
        foreach (var (name, values) in expected)
            NetworkResults.AssertMatches(TensorComparison.Compare(name, actual[name], values, TensorComparison.Float32Tolerance));
        Assert.Equal(NetworkResults.EvalLoss(network), NetworkResults.EvalLoss(loaded), 5);
    }

    [Fact]
    public void ACheckpointKeepsTheBuffersBitForBit()
    {
        using var backend = new ReferenceBackend();
        using var network = Golden(backend, "cnn_bn");
        using var optimizer = new Optimizer(backend, network.Parameters.All, OptimizerSettings.Defaults(OptimizerKind.Sgd, 0.1));
        optimizer.Step(network);
        optimizer.Step(network);
        string path = Path.Combine(_folder, "checkpoint.safetensors");
        Checkpoint.Write(path, network.Parameters, optimizer, new Dictionary<string, string>());

        using var resumed = Golden(backend, "cnn_bn");
        using var resumedOptimizer = new Optimizer(backend, resumed.Parameters.All, OptimizerSettings.Defaults(OptimizerKind.Sgd, 0.1));
        Checkpoint.Read(path, backend, resumed.Parameters, resumedOptimizer);
        Assert.Equal(NetworkResults.Buffers(network), NetworkResults.Buffers(resumed));
        Assert.Equal(optimizer.Step(network), resumedOptimizer.Step(resumed)); // and the next step's masks and loss
    }

    /// <summary>A parameters file of a batch-norm model without its buffers (one written before batch norm) is one line naming the missing tensor.</summary>
    [Fact]
    public void AFileWithoutTheBuffersIsOneLineNamingThem()
    {
        using var backend = new ReferenceBackend();
        using var network = Golden(backend, "mlp_bn");
        var writer = new SafetensorsWriter();
        foreach (var p in network.Parameters.All)
            writer.Add(p.Name, [.. p.Shape], backend.Download(p.Value));
        string path = Path.Combine(_folder, "no-buffers.safetensors");
        writer.Write(path);
        var e = Assert.Throws<KernelLabException>(() => network.LoadParameters(SafetensorsFile.Read(path)));
        Assert.Contains("bn1.running_mean", e.Message);
    }
}
