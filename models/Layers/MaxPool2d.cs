using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>F.max_pool2d(x, 2): y [planes, H/2, W/2], floor; remembers each window's arg-max for the backward pass.</summary>
public sealed class MaxPool2d(Backend backend, Pool2dShape shape) : IDisposable
{
    private readonly DeviceIndexBuffer _argMax = backend.AllocateIndices(shape.OutputLength);

    public DeviceBuffer Output { get; } = backend.Allocate(shape.OutputLength);

    public void Forward(DeviceView x) => backend.MaxPool2dForward(x, Output, _argMax, shape);

    public void Backward(DeviceView dy, DeviceView dx) => backend.MaxPool2dBackward(dy, _argMax, dx, shape);

    public void Dispose()
    {
        _argMax.Dispose();
        Output.Dispose();
    }
}
