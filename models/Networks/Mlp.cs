using KernelLab.Backends;
using KernelLab.Models.Layers;

namespace KernelLab.Models.Networks;

/// <summary>
/// fc1 .. fc{n-1} with ReLU between them: x [B, sizes[0]] to logits [B, sizes[^1]]. With batch_norm, bn{i} sits between
/// fc{i} and its ReLU; with dropout, nn.Dropout follows every hidden ReLU.
/// </summary>
public sealed class Mlp : Network
{
    private readonly Linear[] _fc;
    private readonly BatchNorm[]? _bn;             // one per hidden layer, with batch_norm
    private readonly ActivationLayer[] _relu;      // after every layer but the last
    private readonly Dropout[]? _dropout;          // after every hidden ReLU, with dropout > 0 (site i - 1 after fc{i})
    private readonly DeviceBuffer _x;              // [B, sizes[0]]
    private readonly DeviceBuffer[] _dHidden;      // [B, sizes[i]] for 0 < i < n-1
    private readonly DeviceBuffer[]? _dNorm;       // [B, sizes[i]]: the gradient of fc{i}'s output, with batch_norm

    public Mlp(Backend backend, MlpConfig config, BatchShape shape)
        : base(backend, config, shape)
    {
        var sizes = config.Sizes;
        int b = shape.Batch, layers = sizes.Count - 1;
        _x = Allocate((long)b * sizes[0]);
        // state_dict order: fc1, bn1, fc2, bn2, ...
        _fc = new Linear[layers];
        _bn = config.BatchNorm ? new BatchNorm[layers - 1] : null;
        for (int i = 1; i <= layers; i++)
        {
            _fc[i - 1] = Own(new Linear(backend, Parameters, $"fc{i}", sizes[i - 1], sizes[i], b));
            if (_bn is not null && i < layers)
            {
                _bn[i - 1] = Own(new BatchNorm(backend, Parameters, $"bn{i}", b, sizes[i], 1));
                _fc[i - 1].Bias!.GradientVanishes = true;
            }
        }
        _relu = Enumerable.Range(1, layers - 1).Select(i => Own(new ActivationLayer(backend, Activation.Relu, (long)b * sizes[i]))).ToArray();
        _dropout = config.Dropout > 0
            ? Enumerable.Range(1, layers - 1).Select(i => Own(new Dropout(backend, config.Dropout, (uint)(i - 1), (long)b * sizes[i]))).ToArray()
            : null;
        _dHidden = Enumerable.Range(1, layers - 1).Select(i => Allocate((long)b * sizes[i])).ToArray();
        _dNorm = _bn is null ? null : Enumerable.Range(1, layers - 1).Select(i => Allocate((long)b * sizes[i])).ToArray();
    }

    // The input of layer i: x for the first, the previous ReLU's output (after dropout) after that.
    private DeviceView Input(int i) => i == 0 ? _x : _relu[i - 1].Output;

    // What hidden layer i's ReLU reads: fc{i+1}'s output, or bn{i+1}'s.
    private DeviceView PreActivation(int i) => _bn is null ? _fc[i].Output : _bn[i].Output;

    protected override void LoadInputs(Batch batch) => Backend.CopyIn(_x, batch.Features);

    protected override void Forward(ForwardMode mode)
    {
        for (int i = 0; i < _fc.Length; i++)
        {
            _fc[i].Forward(Input(i));
            if (i == _relu.Length)
                break;
            _bn?[i].Forward(_fc[i].Output, mode);
            _relu[i].Forward(PreActivation(i));
            _dropout?[i].Forward(_relu[i].Output, mode);
        }
        Loss.Forward(_fc[^1].Output, Targets);
    }

    protected override void Backward(DeviceView dLogits)
    {
        var dy = dLogits;
        for (int i = _fc.Length - 1; i >= 0; i--)
        {
            DeviceView? dx = i > 0 ? (DeviceView)_dHidden[i - 1] : null;
            _fc[i].Backward(Input(i), dy, dx);
            if (dx is { } d)
            {
                _dropout?[i - 1].Backward(d, d);
                _relu[i - 1].Backward(PreActivation(i - 1), d, d);
                if (_bn is not null)
                {
                    _bn[i - 1].Backward(_fc[i - 1].Output, d, _dNorm![i - 1]);
                    d = _dNorm[i - 1];
                }
                dy = d;
            }
        }
    }
}
