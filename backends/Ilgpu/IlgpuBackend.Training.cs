using ILGPU;
using ILGPU.Runtime;
using KernelLab.Backends.Ilgpu.Kernels;

namespace KernelLab.Backends.Ilgpu;

// The training blocks: dropout, batch norm, and the reductions of the L1 penalty and gradient clipping.
public sealed partial class IlgpuBackend
{
    protected override void DropoutForwardCore(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m)
    {
        var args = new DropoutArgs
        {
            Threshold = m.Threshold, Site = m.Site, Step0 = m.Step0, Step1 = m.Step1, Key0 = m.Key0, Key1 = m.Key1, Scale = (float)m.Scale,
        };
        if (n > 0)
            Launch(nameof(TrainingKernels.DropoutForward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, DropoutArgs>(TrainingKernels.DropoutForward),
                k => k(Extent((n + 3) / 4), View(x), View(mask), View(y), n, args));
    }

    protected override void DropoutBackwardCore(DeviceView dy, DeviceView mask, DeviceView dx, long n)
    {
        if (n > 0)
            Launch(nameof(ElementwiseKernels.Multiply),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.Multiply),
                k => k(Extent(n), View(dy), View(mask), View(dx)));
    }

    private static BatchNormArgs Args(int outer, int channels, int inner, double eps = 0, double momentum = 0) =>
        new() { Outer = outer, Channels = channels, Inner = inner, Eps = eps, Momentum = momentum };

    protected override void BatchNormTrainingForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
        DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum)
    {
        if (channels > 0)
            Launch(nameof(TrainingKernels.BatchNormTrainingForward),
                static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, BatchNormArgs>(TrainingKernels.BatchNormTrainingForward),
                k => k(Groups(channels), View(x), View(weight), View(bias), View(y), View(mean), View(rstd), View(runningMean), View(runningVar), Args(outer, channels, inner, eps, momentum)));
    }

    protected override void BatchNormEvalForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView runningMean, DeviceView runningVar, DeviceView y,
        int outer, int channels, int inner, double eps)
    {
        long n = (long)outer * channels * inner;
        if (n > 0)
            Launch(nameof(TrainingKernels.BatchNormEvalForward),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, BatchNormArgs>(TrainingKernels.BatchNormEvalForward),
                k => k(Extent(n), View(x), View(weight), View(bias), View(runningMean), View(runningVar), View(y), Args(outer, channels, inner, eps)));
    }

    protected override void BatchNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias,
        int outer, int channels, int inner)
    {
        if (channels > 0)
            Launch(nameof(TrainingKernels.BatchNormBackward),
                static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, BatchNormArgs>(TrainingKernels.BatchNormBackward),
                k => k(Groups(channels), View(dy), View(x), View(weight), View(mean), View(rstd), View(dx), View(dWeight), View(dBias), Args(outer, channels, inner)));
    }

    /// <summary>One group, launched even for n = 0, which still writes result[0].</summary>
    protected override void SumReduceCore(Reduction f, DeviceView x, long n, DeviceView result, double alpha, bool accumulate) =>
        Launch(nameof(TrainingKernels.SumReduce),
            static a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int, double, int>(TrainingKernels.SumReduce),
            k => k(Groups(1), View(x), View(result), (int)n, f == Reduction.SumSquares ? 1 : 0, alpha, accumulate ? 1 : 0));

    protected override void AddL1GradientCore(DeviceView param, DeviceView grad, long n, double lambda)
    {
        if (n > 0)
            Launch(nameof(TrainingKernels.AddL1Gradient),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(TrainingKernels.AddL1Gradient),
                k => k(Extent(n), View(param), View(grad), (float)lambda));
    }

    /// <summary>The squared norm stays on the device: the kernel reads it there, and nothing waits for it.</summary>
    protected override void ClipByNormCore(DeviceView x, long n, DeviceView sumSquares, double maxNorm)
    {
        if (n > 0)
            Launch(nameof(TrainingKernels.ClipByNorm),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, double>(TrainingKernels.ClipByNorm),
                k => k(Extent(n), View(x), View(sumSquares), maxNorm));
    }
}
