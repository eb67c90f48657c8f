using System.Text.Json;
using KernelLab.Backends;

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
    private readonly OptimizerSettings _settings;
    private readonly LearningRateSchedule? _schedule;
    private OptimizerSettings _current; // the settings at the current rate: a new record only when the rate changes
    private int _steps; // taken so far; torch.optim's step counter, 1 on the first

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

    /// <summary>Updates every parameter from its gradient, at <see cref="LearningRate"/>.</summary>
    public void Step()
    {
        SetRate(LearningRate);
        _steps++;
        for (int i = 0; i < _parameters.Count; i++)
            _backend.OptimizerStep(_current, _steps, _parameters[i].Value, _parameters[i].Grad, _state[i]);
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
    }

    /// <summary>
    /// Reads an optimizer object as suite files and the golden fixtures write it: "name", "lr", and any of
    /// torch.optim's keyword arguments ("weight_decay", "momentum", "dampening", "nesterov", "betas", "eps",
    /// "alpha", "centered", "lr_decay", "initial_accumulator_value"); the rest keep PyTorch's defaults. "schedule" is
    /// <see cref="LearningRateSchedule.Parse"/>'s; any other field is an error, not ignored.
    /// </summary>
    public static OptimizerSettings ParseSettings(JsonElement json, string source)
    {
        var f = new JsonFields(json, source);
        f.AllowOnly("name", "lr", "weight_decay", "momentum", "dampening", "nesterov", "betas", "eps", "alpha", "centered", "lr_decay",
            "initial_accumulator_value", "schedule");
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
        };
        if (s.Invalid() is var (field, value, expected))
            throw new KernelLabException($"{source}: '{field}' is {value}, expected {expected}");
        return s;
    }
}
