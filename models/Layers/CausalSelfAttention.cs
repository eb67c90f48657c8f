using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>The attention core (no parameters): y [B, T, C] from qkv [B, T, 3C]; keeps the probabilities [B, heads, T, T].</summary>
public sealed class CausalSelfAttention(Backend backend, AttentionShape shape) : IDisposable
{
    private readonly DeviceBuffer _probabilities = backend.Allocate(shape.ProbabilitiesLength);

    public DeviceBuffer Output { get; } = backend.Allocate(shape.OutputLength);

    public void Forward(DeviceView qkv) => backend.AttentionForward(qkv, Output, _probabilities, shape);

    public void Backward(DeviceView qkv, DeviceView dy, DeviceView dQkv) => backend.AttentionBackward(dy, qkv, _probabilities, dQkv, shape);

    public void Dispose()
    {
        _probabilities.Dispose();
        Output.Dispose();
    }
}
