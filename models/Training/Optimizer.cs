using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Models.Networks;

namespace KernelLab.Models.Training;

/// <summary>
/// A torch.optim optimizer over a network's parameters: its state lives on the device beside the
/// parameters, so that training never copies parameters to the host.
/// </summary>
public sealed class Optimizer : IDisposable
{
    private readonly Backend _backend;
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly DeviceView[][] _state; // per parameter, StateCount whole buffers of its length
    private readonly OptimizerTensor[] _tensors; // per parameter: value, grad and state, what the update passes to the backend in one call
    private readonly OptimizerSettings _settings;
    private readonly LearningRateSchedule? _schedule;
    private OptimizerSettings _current; // the settings at the current rate: a new record only when the rate changes
    private int _steps; // taken so far; torch.optim's step counter, 1 on the first
    private readonly Parameter[] _weights;        // the parameters of two or more dimensions: what l1 counts
    private readonly DeviceBuffer? _penalty;      // [1]: lambda * sum |w|, with l1 and weights to count
    private readonly DeviceBuffer? _normSquared;  // [1]: the squared global gradient norm, with clip_grad_norm
    private readonly double[] _hostScalar = new double[1];
    private readonly StepGraph _graph; // Step's ops, recorded once and replayed

    public Optimizer(Backend backend, IReadOnlyList<Parameter> parameters, OptimizerSettings settings, LearningRateSchedule? schedule = null)
    {
        _backend = backend;
        _parameters = parameters;
        _settings = _current = settings;
        _schedule = schedule;
        // Adagrad's sum starts at initial_accumulator_value; every other state starts at 0.
        double initial = settings.Kind == OptimizerKind.Adagrad ? settings.InitialAccumulatorValue : 0;
        _state = parameters.Select(p => Enumerable.Range(0, settings.StateCount).Select(_ =>
        {
            DeviceView buffer = backend.Allocate(p.Length);
            backend.Fill(buffer, initial);
            return buffer;
        }).ToArray()).ToArray();
        _tensors = [.. parameters.Select((p, i) => new OptimizerTensor(p.Value, p.Grad, _state[i]))];
        _weights = [.. parameters.Where(p => p.Shape.Count >= 2)];
        _penalty = settings.L1 > 0 && _weights.Length > 0 ? backend.Allocate(1) : null;
        _normSquared = settings.ClipGradNorm is not null ? backend.Allocate(1) : null;
        _graph = backend.CreateStepGraph();
    }

    /// <summary>Optimizer steps taken so far (torch.optim's "step").</summary>
    public int Steps => _steps;

    /// <summary>Every state tensor, named <c>PARAMETER.STATE</c> (<c>fc1.weight.exp_avg</c>), with its parameter's shape.</summary>
    public IEnumerable<(string Name, IReadOnlyList<long> Shape, DeviceView Value)> State =>
        _parameters.SelectMany((p, i) => _settings.StateNames.Select((name, k) => ($"{p.Name}.{name}", p.Shape, _state[i][k])));

    /// <summary>The learning rate of the next step: the schedule's, where there is one.</summary>
    public double LearningRate => _schedule is StepwiseSchedule s ? s.At(_steps, _settings.LearningRate) : _current.LearningRate;

    /// <summary>ReduceLROnPlateau's state: the lowest validation loss so far and the evaluations since it.</summary>
    public (double Best, int BadEvaluations) Plateau { get; private set; } = (double.PositiveInfinity, 0);

    /// <summary>
    /// Sets the step counter, and a plateau schedule's rate and state, for a run resumed from a checkpoint whose state tensors
    /// were copied in.
    /// </summary>
    public void Resume(int steps, double learningRate, (double Best, int BadEvaluations) plateau)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        _steps = steps;
        SetRate(learningRate);
        Plateau = plateau;
    }

    /// <summary>
    /// One training step of <paramref name="network"/>, whose parameters this optimizer updates: the gradients of its loaded
    /// batch in train mode with the dropout masks of step <see cref="Steps"/> + 1; the L1 term's subgradient; clipping by
    /// the global norm; and the update of every parameter at <see cref="LearningRate"/>. Returns the loss as PyTorch's
    /// training loop has it: the network's mean loss plus the L1 penalty of the parameters before the update.
    /// </summary>
    /// <remarks>
    /// The step's ops run as one <see cref="StepGraph"/> (one CUDA graph launch on the cuda backend); the loss and the
    /// penalty are read after it.
    /// </remarks>
    public double Step(Network network)
    {
        _graph.Run(static s => s.Optimizer.QueueStep(s.Network), (Optimizer: this, Network: network));
        return network.ReadLoss() + ReadPenalty();
    }

    private void QueueStep(Network network)
    {
        network.Step = (ulong)_steps + 1;
        network.QueueGradients();
        QueueUpdate();
    }

    /// <summary>
    /// The step after the gradients: the L1 subgradient, clipping, and the update of every parameter at
    /// <see cref="LearningRate"/>. Returns the L1 penalty of the parameters before the update (0 without l1).
    /// </summary>
    public double Update()
    {
        QueueUpdate();
        return ReadPenalty();
    }

    private void QueueUpdate()
    {
        AddL1();
        ClipGradients();
        SetRate(LearningRate);
        _steps++;
        _backend.OptimizerStep(_current, _steps, _tensors);
    }

    /// <summary>Adds lambda * sign(w) to the gradient of every parameter of two or more dimensions, and lambda * sum |w| over them into the penalty (without l1, nothing).</summary>
    private void AddL1()
    {
        if (_penalty is null)
            return;
        double lambda = _settings.L1;
        for (int i = 0; i < _weights.Length; i++)
        {
            _backend.SumReduce(Reduction.SumAbs, _weights[i].Value, _weights[i].Length, _penalty, lambda, accumulate: i > 0);
            _backend.AddL1Gradient(_weights[i].Value, _weights[i].Grad, _weights[i].Length, lambda);
        }
    }

    /// <summary>The L1 penalty of the last step's parameters before their update (0, and no read, without l1).</summary>
    private double ReadPenalty()
    {
        if (_penalty is null)
            return 0;
        _backend.CopyOut(_penalty, _hostScalar);
        return _hostScalar[0];
    }

    /// <summary>clip_grad_norm_ over every gradient: the squared norms summed on the device, then each gradient scaled there.</summary>
    private void ClipGradients()
    {
        if (_normSquared is null)
            return;
        for (int i = 0; i < _parameters.Count; i++)
            _backend.SumReduce(Reduction.SumSquares, _parameters[i].Grad, _parameters[i].Length, _normSquared, accumulate: i > 0);
        foreach (var p in _parameters)
            _backend.ClipByNorm(p.Grad, p.Length, _normSquared, _settings.ClipGradNorm!.Value);
    }

    /// <summary>
    /// Steps a plateau schedule with an evaluation's validation loss (ReduceLROnPlateau.step): after more than patience
    /// evaluations without a new best, the rate is multiplied by factor, if that changes it by more than eps. Other schedules
    /// ignore it.
    /// </summary>
    public void Evaluated(double validationLoss)
    {
        if (_schedule is not PlateauSchedule p)
            return;
        var (best, bad) = Plateau;
        (best, bad) = validationLoss < best * (1 - PlateauSchedule.Threshold) ? (validationLoss, 0) : (best, bad + 1);
        if (bad > p.Patience)
        {
            double lr = _current.LearningRate, reduced = Math.Max(lr * p.Factor, 0);
            if (lr - reduced > PlateauSchedule.Eps)
                SetRate(reduced);
            bad = 0;
        }
        Plateau = (best, bad);
    }

    private void SetRate(double learningRate)
    {
        if (learningRate != _current.LearningRate)
            _current = _settings with { LearningRate = learningRate };
    }

    public void Dispose()
    {
        foreach (var buffers in _state)
            foreach (var b in buffers)
                b.Buffer.Dispose();
        _graph.Dispose();
        _penalty?.Dispose();
        _normSquared?.Dispose();
    }

    /// <summary>
    /// Reads an optimizer object as suite files and the golden fixtures write it: "name", "lr", and any of
    /// torch.optim's keyword arguments ("weight_decay", "momentum", "dampening", "nesterov", "betas", "eps",
    /// "alpha", "centered", "lr_decay", "initial_accumulator_value"), and the training step's "l1" and "clip_grad_norm"; the rest
    /// keep PyTorch's defaults. "schedule" is <see cref="LearningRateSchedule.Parse"/>'s; any other field is an error, not ignored.
    /// </summary>
    public static OptimizerSettings ParseSettings(JsonElement json, string source)
    {
        var f = new JsonFields(json, source);
        f.AllowOnly("name", "lr", "weight_decay", "momentum", "dampening", "nesterov", "betas", "eps", "alpha", "centered", "lr_decay",
            "initial_accumulator_value", "l1", "clip_grad_norm", "schedule");
        var s = OptimizerSettings.Defaults(OptimizerSettings.ParseKind(f.String("name")), f.Number("lr"));
        if (f.Has("betas"))
        {
            var betas = f.Element("betas");
            if (betas.ValueKind != JsonValueKind.Array || betas.GetArrayLength() != 2 || betas.EnumerateArray().Any(b => b.ValueKind != JsonValueKind.Number))
                throw new KernelLabException($"{source}: 'betas' must be two numbers");
            s = s with { Beta1 = betas[0].GetDouble(), Beta2 = betas[1].GetDouble() };
        }
        s = s with
        {
            WeightDecay = f.Has("weight_decay") ? f.Number("weight_decay") : s.WeightDecay,
            Momentum = f.Has("momentum") ? f.Number("momentum") : s.Momentum,
            Dampening = f.Has("dampening") ? f.Number("dampening") : s.Dampening,
            Nesterov = f.Has("nesterov") ? f.Bool("nesterov") : s.Nesterov,
            Eps = f.Has("eps") ? f.Number("eps") : s.Eps,
            Alpha = f.Has("alpha") ? f.Number("alpha") : s.Alpha,
            Centered = f.Has("centered") ? f.Bool("centered") : s.Centered,
            LearningRateDecay = f.Has("lr_decay") ? f.Number("lr_decay") : s.LearningRateDecay,
            InitialAccumulatorValue = f.Has("initial_accumulator_value") ? f.Number("initial_accumulator_value") : s.InitialAccumulatorValue,
            L1 = f.Has("l1") ? f.Number("l1") : s.L1,
            ClipGradNorm = f.Has("clip_grad_norm") ? f.Number("clip_grad_norm") : s.ClipGradNorm,
        };
        if (s.Invalid() is var (field, value, expected))
            throw new KernelLabException($"{source}: '{field}' is {value}, expected {expected}");
        return s;
    }
}
