using KernelLab.Backends;
using KernelLab.Models.Layers;
using KernelLab.Models.Safetensors;

namespace KernelLab.Models.Networks;

/// <summary>
/// A network of one family, built for one batch shape: parameters in PyTorch's state_dict order, and every
/// activation and gradient buffer allocated once, so a training step allocates nothing.
/// </summary>
public abstract class Network : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    protected Network(Backend backend, ModelConfig config, BatchShape shape)
    {
        Backend = backend;
        Config = config;
        Shape = shape;
        Rows = (int)TensorLength.Of("the loss's rows (B*T)", shape.Batch, shape.Steps);
        Parameters = new ParameterSet(backend);
        Targets = backend.AllocateIndices(Rows);
        Loss = Own(new SoftmaxCrossEntropy(backend, Rows, config.Classes));
        _hostTargets = new int[Rows];
    }

    private readonly int[] _hostTargets; // the loaded batch's targets in the logits' row order
    private double[]? _hostLogits;        // allocated on the first Score

    public Backend Backend { get; }

    public ModelConfig Config { get; }

    public BatchShape Shape { get; }

    public ParameterSet Parameters { get; }

    /// <summary>The seed of the dropout masks: the run's seed (<c>--seed</c>, a suite workload's seed), 1 unless set.</summary>
    public ulong Seed { get; set; } = 1;

    /// <summary>
    /// The training step that the next train-mode forward draws its dropout masks for, 1 for the first: <c>grad</c> computes
    /// step 1's gradients, and the optimizer sets it before each step.
    /// </summary>
    public ulong Step { get; set; } = 1;

    private ForwardMode TrainMode => new(true, Seed, Step);

    /// <summary>Rows of the loss: B, or B*T for sequence models.</summary>
    protected int Rows { get; }

    protected DeviceIndexBuffer Targets { get; }

    protected SoftmaxCrossEntropy Loss { get; }

    /// <summary>
    /// A network of <paramref name="config"/> on <paramref name="backend"/>, once its <see cref="MemoryPlan"/> (with the
    /// state of <paramref name="optimizer"/>, for a network that will train) fits in the memory the backend and the
    /// host have free: a config too large is one line with both figures, not an out-of-memory kill.
    /// </summary>
    public static Network Create(Backend backend, ModelConfig config, BatchShape shape, OptimizerSettings? optimizer = null)
    {
        MemoryPlan.For(config, shape, optimizer, backend.Precision).Check(backend);
        return Build(backend, config, shape);
    }

    /// <summary>The network with no memory check: what <see cref="MemoryPlan"/> counts.</summary>
    internal static Network Build(Backend backend, ModelConfig config, BatchShape shape) => config switch
    {
        MlpConfig c => new Mlp(backend, c, shape),
        CnnConfig c => new Cnn(backend, c, shape),
        RecurrentConfig c => new RecurrentLanguageModel(backend, c, shape),
        TransformerConfig c => new Transformer(backend, c, shape),
        _ => throw new ArgumentOutOfRangeException(nameof(config)),
    };

    /// <summary>
    /// A network with seeded parameters (PyTorch's default distributions, <paramref name="seed"/>) and a seeded
    /// synthetic batch (<paramref name="seed"/> + 1), and <paramref name="seed"/> as its dropout seed, as <c>kernellab init --seed S</c> and <c>kernellab batch
    /// --seed S+1</c> write them: what the suites, the benchmarks and the tests run.
    /// </summary>
    public static Network CreateSeeded(Backend backend, ModelConfig config, BatchShape shape, ulong seed, OptimizerSettings? optimizer = null)
    {
        var network = Create(backend, config, shape, optimizer);
        try
        {
            network.Initialize(seed);
            network.LoadBatch(Batch.Synthetic(config, shape, seed + 1));
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>A run's start from <paramref name="seed"/>: seeded parameters and buffers (<see cref="ParameterSet.Initialize"/>), and the seed of the dropout masks.</summary>
    public void Initialize(ulong seed)
    {
        Parameters.Initialize(seed);
        Seed = seed;
    }

    /// <summary>Uploads a batch of this network's shape.</summary>
    public void LoadBatch(Batch batch)
    {
        if (batch.Shape != Shape)
            throw new ArgumentException($"batch of shape {batch.Shape} given to a network built for {Shape}");
        LoadInputs(batch);
        var targets = ArrangeTargets(batch.Targets);
        Backend.CopyIn(Targets, targets);
        targets.CopyTo(_hostTargets);
    }

    /// <summary>
    /// Runs the loaded batch forward in eval mode (no dropout; batch norm with its running statistics) and scores its first <paramref name="examples"/> examples on the host, in float64: the
    /// sum over their rows (every time step of a sequence) of <c>-log softmax(logits)[target]</c>, how many rows have the
    /// target as their first largest logit, and how many rows were counted. A sequence batch is scored whole.
    /// </summary>
    public (double LossSum, long Correct, long Rows) Score(int examples)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(examples);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(examples, Shape.Batch);
        if (Config.IsSequence && examples != Shape.Batch)
            throw new ArgumentException($"a sequence batch is scored whole ({Shape.Batch} examples), not {examples}");
        Forward(ForwardMode.Eval);
        int classes = Config.Classes, rows = examples * Shape.Steps;
        _hostLogits ??= new double[(long)Rows * classes];
        Backend.CopyOut(Loss.Logits.Slice(0, (long)Rows * classes), _hostLogits);
        double lossSum = 0;
        long correct = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = _hostLogits.AsSpan(r * classes, classes);
            int best = 0;
            double max = row[0];
            for (int c = 1; c < classes; c++)
                if (row[c] > max)
                    (max, best) = (row[c], c);
            double sum = 0;
            foreach (double logit in row)
                sum += Math.Exp(logit - max);
            int target = _hostTargets[r];
            lossSum += Math.Log(sum) - (row[target] - max);
            correct += best == target ? 1 : 0;
        }
        return (lossSum, correct, rows);
    }

    /// <summary>Copies every parameter and buffer from a file; every tensor must be there with its exact shape, and nothing else.</summary>
    public void LoadParameters(SafetensorsFile file)
    {
        Parameters.ReadFrom(file);
        var unexpected = file.Tensors.Select(t => t.Name).Except(Parameters.Names).FirstOrDefault();
        if (unexpected is not null)
            throw new KernelLabException($"{file.Path}: tensor {SafetensorsFile.Quote(unexpected)} is not a parameter of this {Config.Family} model");
    }

    /// <summary>The mean loss of the loaded batch, in train mode.</summary>
    public double ComputeLoss()
    {
        Forward(TrainMode);
        return ReadLoss();
    }

    /// <summary>Forward in train mode and backward: every parameter's gradient is overwritten. Returns the mean loss.</summary>
    public double ComputeGradients()
    {
        QueueGradients();
        return ReadLoss();
    }

    /// <summary>Queues forward in train mode and backward, reading nothing back: the loss stays on the device until <see cref="ReadLoss"/>.</summary>
    public void QueueGradients()
    {
        Forward(TrainMode); // the loss's forward pass writes its gradient too
        Backward(Loss.LogitsGrad);
    }

    /// <summary>The mean loss of the last forward pass (waits for it).</summary>
    public double ReadLoss() => Loss.ReadLoss();

    /// <summary>
    /// The loss and every parameter's gradient in <paramref name="actual"/> against <paramref name="reference"/> (both by name) at
    /// <paramref name="tolerance"/>, by the rule of MODELS.md; except that a gradient which vanishes in exact arithmetic
    /// (<see cref="Parameter.GradientVanishes"/>) holds rounding noise on both sides, which no rule relative to itself can
    /// compare: its error is measured on the scale of the largest reference gradient of the network instead.
    /// </summary>
    public IReadOnlyList<ComparisonResult> CompareGradients(double loss, IReadOnlyDictionary<string, double[]> actual, double referenceLoss,
        IReadOnlyDictionary<string, double[]> reference, double tolerance)
    {
        var results = new List<ComparisonResult> { TensorComparison.Compare("loss", [loss], [referenceLoss], tolerance) };
        double scale = reference.Values.Max(g => TensorComparison.Scale(g));
        foreach (var p in Parameters.All)
        {
            results.Add(p.GradientVanishes
                ? TensorComparison.Compare($"{p.Name} (0 in exact arithmetic)", actual[p.Name], reference[p.Name], tolerance, scale)
                : TensorComparison.Compare(p.Name, actual[p.Name], reference[p.Name], tolerance));
        }
        return results;
    }

    /// <summary>Runs the network on the loaded batch up to the loss.</summary>
    protected abstract void Forward(ForwardMode mode);

    /// <summary>From the gradient of the logits, writes every parameter's gradient.</summary>
    protected abstract void Backward(DeviceView dLogits);

    protected abstract void LoadInputs(Batch batch);

    /// <summary>The targets in the order of the logits' rows.</summary>
    protected virtual ReadOnlySpan<int> ArrangeTargets(int[] targets) => targets;

    protected T Own<T>(T resource)
        where T : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    protected DeviceBuffer Allocate(long length) => Own(Backend.Allocate(length));

    protected DeviceIndexBuffer AllocateIndices(long length) => Own(Backend.AllocateIndices(length));

    public void Dispose()
    {
        foreach (var resource in _owned)
            resource.Dispose();
        Targets.Dispose();
        Parameters.Dispose();
        GC.SuppressFinalize(this);
    }
}
