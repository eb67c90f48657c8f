using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>
/// nn.BatchNorm1d(channels) over x [batch, channels] (inner 1), or nn.BatchNorm2d(channels) over x [batch, channels, H, W]
/// (inner H*W): eps 1e-5, momentum 0.1, affine, with the running statistics and num_batches_tracked as buffers.
/// </summary>
public sealed class BatchNorm : IDisposable
{
    private const double Eps = 1e-5, Momentum = 0.1;
    private readonly Backend _backend;
    private readonly int _outer, _channels, _inner;
    private readonly StateBuffer _runningMean, _runningVar;
    private readonly StateCounter _batches;
    private readonly DeviceBuffer _mean, _rstd; // [channels]: the last train-mode batch's

    public BatchNorm(Backend backend, ParameterSet parameters, string name, int outer, int channels, int inner)
    {
        if ((long)outer * inner < 2)
            throw new KernelLabException($"{name}: batch norm in train mode needs more than 1 value per channel, and a batch of {outer} gives {(long)outer * inner}");
        _backend = backend;
        (_outer, _channels, _inner) = (outer, channels, inner);
        Weight = parameters.Add($"{name}.weight", new Init.Constant(1), channels);
        Bias = parameters.Add($"{name}.bias", new Init.Constant(0), channels);
        _runningMean = parameters.AddBuffer($"{name}.running_mean", 0, channels);
        _runningVar = parameters.AddBuffer($"{name}.running_var", 1, channels);
        _batches = parameters.AddCounter($"{name}.num_batches_tracked");
        Output = backend.Allocate((long)outer * channels * inner);
        _mean = backend.Allocate(channels);
        _rstd = backend.Allocate(channels);
    }

    public Parameter Weight { get; }

    public Parameter Bias { get; }

    public DeviceBuffer Output { get; } // as x

    public void Forward(DeviceView x, ForwardMode mode)
    {
        if (mode.Training)
        {
            _backend.BatchNormTrainingForward(x, Weight.Value, Bias.Value, Output, _mean, _rstd, _runningMean.Value, _runningVar.Value,
                _outer, _channels, _inner, Eps, Momentum);
            _batches.Value++;
        }
        else
        {
            _backend.BatchNormEvalForward(x, Weight.Value, Bias.Value, _runningMean.Value, _runningVar.Value, Output, _outer, _channels, _inner, Eps);
        }
    }

    /// <summary>The backward of the last train-mode forward; dx may not be dy.</summary>
    public void Backward(DeviceView x, DeviceView dy, DeviceView dx) =>
        _backend.BatchNormBackward(dy, x, Weight.Value, _mean, _rstd, dx, Weight.Grad, Bias.Grad, _outer, _channels, _inner);

    public void Dispose()
    {
        Output.Dispose();
        _mean.Dispose();
        _rstd.Dispose();
    }
}
