using KernelLab.Backends;
using KernelLab.Models.Layers;

namespace KernelLab.Models.Networks;

/// <summary>fc1 .. fc{n-1} with ReLU between them: x [B, sizes[0]] to logits [B, sizes[^1]].</summary>
public sealed class Mlp : Network
{
    private readonly Linear[] _fc;
    private readonly ActivationLayer[] _relu;      // after every layer but the last
    private readonly DeviceBuffer _x;              // [B, sizes[0]]
    private readonly DeviceBuffer[] _dHidden;      // [B, sizes[i]] for 0 < i < n-1

    public Mlp(Backend backend, MlpConfig config, BatchShape shape)
        : base(backend, config, shape)
    {
        var sizes = config.Sizes;
        int b = shape.Batch, layers = sizes.Count - 1;
        _x = Allocate((long)b * sizes[0]);
        _fc = Enumerable.Range(1, layers).Select(i => Own(new Linear(backend, Parameters, $"fc{i}", sizes[i - 1], sizes[i], b))).ToArray();
        _relu = Enumerable.Range(1, layers - 1).Select(i => Own(new ActivationLayer(backend, Activation.Relu, (long)b * sizes[i]))).ToArray();
        _dHidden = Enumerable.Range(1, layers - 1).Select(i => Allocate((long)b * sizes[i])).ToArray();
    }

    // The input of layer i: x for the first, the previous ReLU's output after that.
    private DeviceView Input(int i) => i == 0 ? _x : _relu[i - 1].Output;

    protected override void LoadInputs(Batch batch) => Backend.CopyIn(_x, batch.Features);

    protected override void Forward()
    {
        for (int i = 0; i < _fc.Length; i++)
        {
            _fc[i].Forward(Input(i));
            if (i < _relu.Length)
                _relu[i].Forward(_fc[i].Output);
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
                _relu[i - 1].Backward(_fc[i - 1].Output, d, d);
                dy = d;
            }
        }
    }
}
