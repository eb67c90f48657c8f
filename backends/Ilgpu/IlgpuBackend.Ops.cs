using ILGPU;
using ILGPU.Runtime;
using KernelLab.Backends.Ilgpu.Kernels;

namespace KernelLab.Backends.Ilgpu;

// Element-wise ops, GEMM, bias, convolution, pooling and embedding.
public sealed partial class IlgpuBackend
{
    protected override void FillCore(DeviceView y, double value)
    {
        if (y.Length > 0)
            Launch(nameof(ElementwiseKernels.Fill),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(ElementwiseKernels.Fill),
                k => k(Extent(y.Length), View(y), (float)value));
    }

    protected override void AddCore(DeviceView a, DeviceView b, DeviceView y, long n)
    {
        if (n > 0)
            Launch(nameof(ElementwiseKernels.Add),
                static acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.Add),
                k => k(Extent(n), View(a), View(b), View(y)));
    }

    protected override void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n)
    {
        if (n > 0)
            Launch(nameof(ElementwiseKernels.ActivationForward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.ActivationForward),
                k => k(Extent(n), (int)f, View(x), View(y)));
    }

    protected override void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n)
    {
        if (n > 0)
            Launch(nameof(ElementwiseKernels.ActivationBackward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.ActivationBackward),
                k => k(Extent(n), (int)f, View(x), View(y), View(dy), View(dx)));
    }

    protected override void GemmCore(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, double alpha, bool accumulate)
    {
        if (m == 0 || n == 0)
            return;
        int tileM = GemmKernels.Block * _gemmY, tileN = GemmKernels.Block * _gemmX;
        var shape = new GemmShape
        {
            M = m, N = n, K = k, TransposeA = transposeA ? 1 : 0, TransposeB = transposeB ? 1 : 0,
            Accumulate = accumulate ? 1 : 0, Alpha = (float)alpha,
        };
        var config = new KernelConfig(
            new Index2D((n + tileN - 1) / tileN, (m + tileM - 1) / tileM), new Index2D(_gemmX, _gemmY),
            SharedMemoryConfig.RequestDynamic<float>(GemmKernels.Depth * (tileM + tileN)));
        Launch(nameof(GemmKernels.Gemm),
            static acc => acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape>(GemmKernels.Gemm),
            kernel => kernel(config, View(a), View(b), View(c), shape));
    }

    protected override void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner)
    {
        long n = (long)outer * channels * inner;
        if (n > 0)
            Launch(nameof(ElementwiseKernels.AddBias),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(ElementwiseKernels.AddBias),
                k => k(Extent(n), View(y), View(bias), channels, inner));
    }

    protected override void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate)
    {
        if (channels == 0)
            return;
        // Rows of a linear layer: one thread per channel reads along the rows. Planes of a convolution: one group per
        // channel reduces its outer * inner elements.
        if (inner == 1)
            Launch(nameof(ElementwiseKernels.BiasBackwardColumns),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>(ElementwiseKernels.BiasBackwardColumns),
                k => k(Extent(channels), View(dy), View(dBias), outer, channels, accumulate ? 1 : 0));
        else
            Launch(nameof(ElementwiseKernels.BiasBackwardPlanes),
                static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int, int, int>(ElementwiseKernels.BiasBackwardPlanes),
                k => k(Groups(channels), View(dy), View(dBias), outer, channels, inner, accumulate ? 1 : 0));
    }

    protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView y, Conv2dShape s) =>
        ConvRows(x, w, y, s, s.InChannels, s.OutChannels, transposed: false);

    // The same sum as the forward, from dy to dx through the flipped and transposed weight.
    protected override void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s) =>
        ConvRows(dy, w, dx, s, s.OutChannels, s.InChannels, transposed: true);

    private void ConvRows(DeviceView input, DeviceView w, DeviceView output, Conv2dShape s, int inChannels, int outChannels, bool transposed)
    {
        long threads = (long)s.Batch * outChannels * s.Height * ((s.Width + ConvolutionKernels.Columns - 1) / ConvolutionKernels.Columns);
        if (threads == 0)
            return;
        var shape = new ConvShape
        {
            Batch = s.Batch, InChannels = inChannels, OutChannels = outChannels, Height = s.Height, Width = s.Width,
            KernelSize = s.KernelSize, Transposed = transposed ? 1 : 0,
        };
        Launch(nameof(ConvolutionKernels.ConvRows),
            static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape>(ConvolutionKernels.ConvRows),
            k => k(Extent(threads), View(input), View(w), View(output), shape));
    }

    protected override void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s)
    {
        if (s.WeightLength == 0)
            return;
        var shape = new ConvShape
        {
            Batch = s.Batch, InChannels = s.InChannels, OutChannels = s.OutChannels, Height = s.Height, Width = s.Width, KernelSize = s.KernelSize,
        };
        Launch(nameof(ConvolutionKernels.ConvBackwardWeight),
            static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape>(ConvolutionKernels.ConvBackwardWeight),
            k => k(Groups(s.WeightLength), View(x), View(dy), View(dw), shape));
    }

    protected override void MaxPool2dForwardCore(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s)
    {
        if (s.OutputLength > 0)
            Launch(nameof(ConvolutionKernels.MaxPoolForward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int>(ConvolutionKernels.MaxPoolForward),
                k => k(Extent(s.OutputLength), View(x), View(y), Indices(argMax), s.Height, s.Width));
    }

    protected override void MaxPool2dBackwardCore(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s)
    {
        if (s.InputLength > 0)
            Launch(nameof(ConvolutionKernels.MaxPoolBackward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>(ConvolutionKernels.MaxPoolBackward),
                k => k(Extent(s.InputLength), View(dy), Indices(argMax), View(dx), s.Height, s.Width));
    }

    protected override void EmbeddingForwardCore(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim)
    {
        long n = (long)count * dim;
        if (n > 0)
            Launch(nameof(SequenceKernels.EmbeddingForward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(SequenceKernels.EmbeddingForward),
                k => k(Extent(n), Indices(ids), View(table), View(y), dim));
    }

    protected override void EmbeddingBackwardCore(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim)
    {
        long n = (long)vocab * dim;
        if (n > 0)
            Launch(nameof(SequenceKernels.EmbeddingBackward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(SequenceKernels.EmbeddingBackward),
                k => k(Extent(n), Indices(ids), View(dy), View(dTable), count, dim));
    }
}
