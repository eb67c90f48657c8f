using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>
/// nn.Dropout(p) in place over a tensor of <c>length</c> elements, at dropout site <c>site</c> of its network (sites are
/// numbered in forward order): in train mode the tensor is multiplied by the site's mask for the step
/// (<see cref="DropoutMask"/>), in eval mode it passes unchanged.
/// </summary>
public sealed class Dropout(Backend backend, double p, uint site, long length) : IDisposable
{
    private readonly DeviceBuffer _mask = backend.Allocate(length); // 1/(1-p) where kept, 0 where dropped

    public void Forward(DeviceView x, ForwardMode mode)
    {
        if (mode.Training)
            backend.DropoutForward(x, _mask, x, length, new DropoutMask(p, mode.Seed, site, mode.Step));
    }

    /// <summary>dx = dy times the mask of the last train-mode forward; dx may be dy.</summary>
    public void Backward(DeviceView dy, DeviceView dx) => backend.DropoutBackward(dy, _mask, dx, length);

    public void Dispose() => _mask.Dispose();
}

/// <summary>
/// How a forward pass runs: train mode (dropout drops with the masks of <see cref="Seed"/> and <see cref="Step"/>, batch
/// norm normalises with the batch's statistics and updates its running ones) or eval mode (neither).
/// </summary>
public readonly record struct ForwardMode(bool Training, ulong Seed, ulong Step)
{
    public static ForwardMode Eval => new(false, 0, 0);
}
