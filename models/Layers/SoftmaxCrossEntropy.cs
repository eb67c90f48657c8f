using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>
/// F.cross_entropy(logits, targets), mean over rows, with its gradient computed in the same pass (the backend's fused op):
/// there is no probabilities buffer. The loss stays on the device until read.
/// </summary>
public sealed class SoftmaxCrossEntropy(Backend backend, int rows, int classes) : IDisposable
{
    private readonly DeviceBuffer _loss = backend.Allocate(1); // [1]

    /// <summary>d loss / d logits of the last forward pass, [rows, classes].</summary>
    public DeviceBuffer LogitsGrad { get; } = backend.Allocate((long)rows * classes);

    /// <summary>The logits of the last forward pass, [rows, classes]: what evaluation scores.</summary>
    public DeviceView Logits { get; private set; }

    /// <summary>The loss and its gradient <see cref="LogitsGrad"/>, which the network's backward pass starts from.</summary>
    public void Forward(DeviceView logits, DeviceIndexBuffer targets)
    {
        Logits = logits;
        backend.SoftmaxCrossEntropy(logits, targets, _loss, LogitsGrad, rows, classes);
    }

    /// <summary>The mean loss of the last forward pass (waits for it).</summary>
    public double ReadLoss()
    {
        Span<double> loss = stackalloc double[1];
        backend.CopyOut(_loss, loss);
        return loss[0];
    }

    public void Dispose()
    {
        _loss.Dispose();
        LogitsGrad.Dispose();
    }
}
