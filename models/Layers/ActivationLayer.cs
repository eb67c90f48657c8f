using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>An element-wise activation with its own output buffer (the backward pass needs input and output).</summary>
public sealed class ActivationLayer(Backend backend, Activation function, long length) : IDisposable
{
    public DeviceBuffer Output { get; } = backend.Allocate(length);

    public void Forward(DeviceView x) => backend.ActivationForward(function, x, Output, length);

    /// <summary>dx may be dy.</summary>
    public void Backward(DeviceView x, DeviceView dy, DeviceView dx) => backend.ActivationBackward(function, x, Output, dy, dx, length);

    public void Dispose() => Output.Dispose();
}
