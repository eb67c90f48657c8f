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
    private int _steps; // taken so far; torch.optim's step counter, 1 on the first

    public Optimizer(Backend backend, IReadOnlyList<Parameter> parameters, OptimizerSettings settings)
    {
        _backend = backend;
        _parameters = parameters;
        _settings = settings;
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

    /// <summary>Sets the step counter, for a run resumed from a checkpoint whose state tensors were copied in.</summary>
    public void Resume(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        _steps = steps;
    }

    /// <summary>Updates every parameter from its gradient.</summary>
    public void Step()
    {
        _steps++;
        for (int i = 0; i < _parameters.Count; i++)
            _backend.OptimizerStep(_settings, _steps, _parameters[i].Value, _parameters[i].Grad, _state[i]);
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
    /// "alpha", "centered", "lr_decay", "initial_accumulator_value"); the rest keep PyTorch's defaults.
    /// </summary>
    public static OptimizerSettings ParseSettings(JsonElement json, string source)
    {
        var f = new JsonFields(json, source);
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
