using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>nn.Conv2d(in, out, k, stride=1, padding=k//2) over NCHW: y [B, out, H, W].</summary>
public sealed class Conv2d : IDisposable
{
    private readonly Backend _backend;
    private readonly Conv2dShape _shape;

    public Conv2d(Backend backend, ParameterSet parameters, string name, Conv2dShape shape)
    {
        _backend = backend;
        _shape = shape;
        int k = shape.KernelSize;
        var init = new Init.Uniform(1.0 / Math.Sqrt((double)shape.InChannels * k * k));
        Weight = parameters.Add($"{name}.weight", init, shape.OutChannels, shape.InChannels, k, k);
        Bias = parameters.Add($"{name}.bias", init, shape.OutChannels);
        Output = backend.Allocate(shape.OutputLength);
    }

    public Parameter Weight { get; }

    public Parameter Bias { get; }

    public DeviceBuffer Output { get; } // [B, out, H, W]

    private int Plane => _shape.Height * _shape.Width;

    public void Forward(DeviceView x) => _backend.Conv2dForward(x, Weight.Value, Bias.Value, Output, _shape);

    public void Backward(DeviceView x, DeviceView dy, DeviceView? dx)
    {
        _backend.Conv2dBackwardWeight(x, dy, Weight.Grad, _shape);
        _backend.BiasBackward(dy, Bias.Grad, _shape.Batch, _shape.OutChannels, Plane);
        if (dx is { } d)
            _backend.Conv2dBackwardData(dy, Weight.Value, d, _shape);
    }

    public void Dispose() => Output.Dispose();
}
