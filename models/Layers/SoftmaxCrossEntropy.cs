using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>F.cross_entropy(logits, targets), mean over rows; loss stays on the device until read.</summary>
public sealed class SoftmaxCrossEntropy(Backend backend, int rows, int classes) : IDisposable
{
    private readonly DeviceBuffer _probabilities = backend.Allocate((long)rows * classes); // [rows, classes]
    private readonly DeviceBuffer _loss = backend.Allocate(1);

    public DeviceBuffer LogitsGrad { get; } = backend.Allocate((long)rows * classes);

    /// <summary>The logits of the last forward pass, [rows, classes]: what evaluation scores.</summary>
    public DeviceView Logits { get; private set; }

    public void Forward(DeviceView logits, DeviceIndexBuffer targets)
    {
        Logits = logits;
        backend.SoftmaxCrossEntropyForward(logits, targets, _probabilities, _loss, rows, classes);
    }

    public void Backward(DeviceIndexBuffer targets) =>
        backend.SoftmaxCrossEntropyBackward(_probabilities, targets, LogitsGrad, rows, classes);

    /// <summary>The mean loss of the last forward pass (waits for it).</summary>
    public double ReadLoss()
    {
        Span<double> loss = stackalloc double[1];
        backend.CopyOut(_loss, loss);
        return loss[0];
    }

    public void Dispose()
    {
        _probabilities.Dispose();
        _loss.Dispose();
        LogitsGrad.Dispose();
    }
}
