using ILGPU;
using ILGPU.Runtime;
using KernelLab.Backends.Ilgpu.Kernels;

namespace KernelLab.Backends.Ilgpu;

// The LSTM and GRU cells, LayerNorm, causal self-attention and the softmax cross-entropy loss.
public sealed partial class IlgpuBackend
{
    protected override void LstmCellForwardCore(DeviceView preact, DeviceView cPrev, DeviceView gates, DeviceView c, DeviceView h, int batch, int hidden)
    {
        long n = (long)batch * hidden;
        if (n > 0)
            Launch(nameof(SequenceKernels.LstmCellForward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(SequenceKernels.LstmCellForward),
                k => k(Extent(n), View(preact), View(cPrev), View(gates), View(c), View(h), hidden));
    }

    protected override void LstmCellBackwardCore(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden)
    {
        long n = (long)batch * hidden;
        if (n > 0)
            Launch(nameof(SequenceKernels.LstmCellBackward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(SequenceKernels.LstmCellBackward),
                k => k(Extent(n), View(gates), View(cPrev), View(c), View(dh), View(dc), View(dPreact), View(dcPrev), hidden));
    }

    protected override void GruCellForwardCore(DeviceView gi, DeviceView gh, DeviceView hPrev, DeviceView gates, DeviceView h, int batch, int hidden)
    {
        long n = (long)batch * hidden;
        if (n > 0)
            Launch(nameof(SequenceKernels.GruCellForward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(SequenceKernels.GruCellForward),
                k => k(Extent(n), View(gi), View(gh), View(hPrev), View(gates), View(h), hidden));
    }

    protected override void GruCellBackwardCore(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden)
    {
        long n = (long)batch * hidden;
        if (n > 0)
            Launch(nameof(SequenceKernels.GruCellBackward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(SequenceKernels.GruCellBackward),
                k => k(Extent(n), View(gates), View(gh), View(hPrev), View(dh), View(dGi), View(dGh), View(dhPrev), hidden));
    }

    protected override void LayerNormForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, double eps)
    {
        if (rows > 0)
            Launch(nameof(NormalizationKernels.LayerNormForward),
                static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(NormalizationKernels.LayerNormForward),
                k => k(Groups(rows), View(x), View(weight), View(bias), View(y), View(mean), View(rstd), cols, (float)eps));
    }

    protected override void LayerNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols)
    {
        if (rows > 0)
            Launch(nameof(NormalizationKernels.LayerNormBackwardInput),
                static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(NormalizationKernels.LayerNormBackwardInput),
                k => k(Groups(rows), View(dy), View(x), View(weight), View(mean), View(rstd), View(dx), cols));
        if (cols > 0)
            Launch(nameof(NormalizationKernels.LayerNormBackwardParams),
                static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(NormalizationKernels.LayerNormBackwardParams),
                k => k(Groups(cols), View(dy), View(x), View(mean), View(rstd), View(dWeight), View(dBias), rows, cols));
    }

    private static AttentionArgs Args(AttentionShape s) =>
        new() { T = s.T, C = s.Channels, Heads = s.Heads, HeadSize = s.HeadSize, Scale = (float)(1 / Math.Sqrt(s.HeadSize)) };

    protected override void AttentionForwardCore(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s)
    {
        long queries = (long)s.Batch * s.Heads * s.T;
        if (queries > 0)
            Launch(nameof(SequenceKernels.AttentionForward),
                static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionArgs>(SequenceKernels.AttentionForward),
                k => k(Groups(queries, sharedFloats: s.T), View(qkv), View(y), View(probabilities), Args(s)));
    }

    protected override void AttentionBackwardCore(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s)
    {
        long queries = (long)s.Batch * s.Heads * s.T;
        if (queries == 0)
            return;
        // The gradient of the scores [B, heads, T, T] first, then every element of dQkv gathers from it, so that keys and
        // values that many queries saw are summed without atomics.
        var dScore = Scratch("attention dScore", s.ProbabilitiesLength);
        Launch(nameof(SequenceKernels.AttentionBackwardScores),
            static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionArgs>(SequenceKernels.AttentionBackwardScores),
            k => k(Groups(queries, sharedFloats: s.T), View(dy), View(qkv), View(probabilities), dScore, Args(s)));
        Launch(nameof(SequenceKernels.AttentionBackwardQkv),
            static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionArgs>(SequenceKernels.AttentionBackwardQkv),
            k => k(Extent(s.QkvLength), View(dy), View(qkv), View(probabilities), dScore, View(dQkv), Args(s)));
    }

    protected override void SoftmaxCrossEntropyCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView loss, DeviceView dLogits, int rows, int classes)
    {
        // Each row's loss into work space, then their mean in row order by one group: only the loss [1] is ever read back.
        var rowLoss = Scratch("cross-entropy row losses", rows);
        if (rows > 0)
            Launch(nameof(NormalizationKernels.SoftmaxCrossEntropy),
                static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(NormalizationKernels.SoftmaxCrossEntropy),
                k => k(Groups(rows), View(logits), Indices(targets), rowLoss, View(dLogits), rows, classes));
        Launch(nameof(NormalizationKernels.Mean),
            static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(NormalizationKernels.Mean),
            k => k(Groups(1), rowLoss, View(loss), rows));
    }
}
