using KernelLab.Backends;
using KernelLab.Models.Layers;

namespace KernelLab.Models.Networks;

/// <summary>
/// For each entry of channels: conv (k, padding k/2) + ReLU + 2x2 max pool; then flatten (C, H, W),
/// fc1 + ReLU, fc2. x [B, C, H, W] to logits [B, classes]. With batch_norm, bn{i} sits between conv{i} and its ReLU;
/// with dropout, nn.Dropout follows fc1's ReLU.
/// </summary>
public sealed class Cnn : Network
{
    private readonly DeviceBuffer _x;                 // [B, C, H, W]
    private readonly Block[] _blocks;
    private readonly Linear _fc1, _fc2;
    private readonly ActivationLayer _fc1Relu;
    private readonly Dropout? _dropout;               // after fc1's ReLU, with dropout > 0 (site 0)
    private readonly DeviceBuffer _dHidden;           // [B, hidden]
    private readonly DeviceBuffer _dFlat;             // [B, C*H*W] after the last pool

    public Cnn(Backend backend, CnnConfig config, BatchShape shape)
        : base(backend, config, shape)
    {
        int b = shape.Batch;
        _x = Allocate((long)b * config.InChannels * config.Height * config.Width);
        _blocks = new Block[config.Channels.Count];
        int inChannels = config.InChannels;
        for (int i = 0; i < _blocks.Length; i++)
        {
            var (h, w) = config.SpatialAfter(i);
            var conv = new Conv2dShape(b, inChannels, config.Channels[i], h, w, config.KernelSize);
            _blocks[i] = Own(new Block(backend, Parameters, i + 1, conv, config.BatchNorm, needsInputGrad: i > 0));
            inChannels = config.Channels[i];
        }
        var (fh, fw) = config.SpatialAfter(_blocks.Length);
        int flat = inChannels * fh * fw;
        _fc1 = Own(new Linear(backend, Parameters, "fc1", flat, config.Hidden, b));
        _fc1Relu = Own(new ActivationLayer(backend, Activation.Relu, (long)b * config.Hidden));
        _dropout = config.Dropout > 0 ? Own(new Dropout(backend, config.Dropout, 0, (long)b * config.Hidden)) : null;
        _fc2 = Own(new Linear(backend, Parameters, "fc2", config.Hidden, config.ClassCount, b));
        _dHidden = Allocate((long)b * config.Hidden);
        _dFlat = Allocate((long)b * flat);
    }

    protected override void LoadInputs(Batch batch) => Backend.CopyIn(_x, batch.Features);

    private DeviceView BlockInput(int i) => i == 0 ? _x : _blocks[i - 1].Output;

    protected override void Forward(ForwardMode mode)
    {
        for (int i = 0; i < _blocks.Length; i++)
            _blocks[i].Forward(BlockInput(i), mode);
        _fc1.Forward(_blocks[^1].Output);
        _fc1Relu.Forward(_fc1.Output);
        _dropout?.Forward(_fc1Relu.Output, mode);
        _fc2.Forward(_fc1Relu.Output);
        Loss.Forward(_fc2.Output, Targets);
    }

    protected override void Backward(DeviceView dLogits)
    {
        _fc2.Backward(_fc1Relu.Output, dLogits, _dHidden);
        _dropout?.Backward(_dHidden, _dHidden);
        _fc1Relu.Backward(_fc1.Output, _dHidden, _dHidden);
        _fc1.Backward(_blocks[^1].Output, _dHidden, _dFlat);
        for (int i = _blocks.Length - 1; i >= 0; i--)
            _blocks[i].Backward(BlockInput(i), i == _blocks.Length - 1 ? _dFlat : _blocks[i + 1].InputGrad!);
    }

    /// <summary>conv + bias, batch norm where the config has it, ReLU, max pool, with the gradient buffers of its conv output and its input.</summary>
    private sealed class Block : IDisposable
    {
        private readonly Conv2d _conv;
        private readonly BatchNorm? _bn;
        private readonly ActivationLayer _relu;
        private readonly MaxPool2d _pool;
        private readonly DeviceBuffer _dConv;   // [B, out, H, W]
        private readonly DeviceBuffer? _dNorm;  // [B, out, H, W]: the gradient of the conv's output, with batch norm

        public Block(Backend backend, ParameterSet parameters, int index, Conv2dShape s, bool batchNorm, bool needsInputGrad)
        {
            _conv = new Conv2d(backend, parameters, $"conv{index}", s);
            if (batchNorm)
            {
                _bn = new BatchNorm(backend, parameters, $"bn{index}", s.Batch, s.OutChannels, s.Height * s.Width);
                _conv.Bias.GradientVanishes = true;
                _dNorm = backend.Allocate(s.OutputLength);
            }
            _relu = new ActivationLayer(backend, Activation.Relu, s.OutputLength);
            _pool = new MaxPool2d(backend, new Pool2dShape(s.Batch * s.OutChannels, s.Height, s.Width));
            _dConv = backend.Allocate(s.OutputLength);
            InputGrad = needsInputGrad ? backend.Allocate(s.InputLength) : null;
        }

        public DeviceBuffer Output => _pool.Output;

        public DeviceBuffer? InputGrad { get; } // [B, in, H, W], not for the first block

        // What the ReLU reads: the conv's output, or the batch norm's.
        private DeviceView PreActivation => _bn is null ? _conv.Output : _bn.Output;

        public void Forward(DeviceView x, ForwardMode mode)
        {
            _conv.Forward(x);
            _bn?.Forward(_conv.Output, mode);
            _relu.Forward(PreActivation);
            _pool.Forward(_relu.Output);
        }

        /// <summary>Writes the conv's (and batch norm's) parameter gradients and <see cref="InputGrad"/>.</summary>
        public void Backward(DeviceView x, DeviceView dy)
        {
            _pool.Backward(dy, _dConv);
            _relu.Backward(PreActivation, _dConv, _dConv);
            _bn?.Backward(_conv.Output, _dConv, _dNorm!);
            _conv.Backward(x, _bn is null ? _dConv : _dNorm!, InputGrad is null ? null : (DeviceView)InputGrad);
        }

        public void Dispose()
        {
            _conv.Dispose();
            _bn?.Dispose();
            _relu.Dispose();
            _pool.Dispose();
            _dConv.Dispose();
            _dNorm?.Dispose();
            InputGrad?.Dispose();
        }
    }
}
