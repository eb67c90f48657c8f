namespace KernelLab.Backends.Cuda;

// The training blocks: dropout, batch norm, and the reductions of the L1 penalty and gradient clipping. Launch shapes as in
// CudaBackend.Ops.cs.
public sealed partial class CudaBackend
{
    // The mask is drawn on the device from DropoutMask's integer recipe; only the scale is a float, rounded once here.
    // One thread per Philox counter of four words.
    protected override void DropoutForwardCore(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m) =>
        Launch(Kernel.DropoutForward, Elements((n + 3) / 4), Block(Threads), 0,
            x, mask, y, n, m.Threshold, (float)m.Scale, m.Site, m.Step0, m.Step1, m.Key0, m.Key1);

    protected override void DropoutBackwardCore(DeviceView dy, DeviceView mask, DeviceView dx, long n) =>
        Launch(Kernel.Multiply, Elements(n), Block(Threads), 0, dy, mask, dx, n);

    protected override void BatchNormTrainingForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
        DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum) =>
        LaunchPerChannel(Kernel.BatchNormTrainingForward, Kernel.BatchNormTrainingForwardColumns, channels, inner,
            x, weight, bias, y, mean, rstd, runningMean, runningVar, outer, channels, inner, (float)eps, (float)momentum);

    protected override void BatchNormEvalForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView runningMean, DeviceView runningVar, DeviceView y,
        int outer, int channels, int inner, double eps)
    {
        long n = (long)outer * channels * inner;
        Launch(Kernel.BatchNormEvalForward, Elements(n), Block(Threads), 0, x, weight, bias, runningMean, runningVar, y, channels, inner, (float)eps, n);
    }

    protected override void BatchNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias,
        int outer, int channels, int inner) =>
        LaunchPerChannel(Kernel.BatchNormBackward, Kernel.BatchNormBackwardColumns, channels, inner,
            dy, x, weight, mean, rstd, dx, dWeight, dBias, outer, channels, inner);

    // SumReduce's blocks: each thread takes at least 8 elements, so that a block's tree of sums is a small part of its work,
    // and at most 1024 blocks, about one full wave of 256-thread blocks on an H200's 132 SMs, whose partial sums one block
    // then adds (4 a thread). The grid depends on n alone, and with it the order of the sum.
    private const int SumBlockElements = 8 * Threads, SumMaxBlocks = 1024;
    private const int SumValues = 2; // reductions.cu: SUM_VALUES, after the Reduction values

    protected override void SumReduceCore(Reduction f, DeviceView x, long n, DeviceView result, double alpha, bool accumulate)
    {
        long blocks = Math.Min(Tiles(n, SumBlockElements), SumMaxBlocks);
        if (blocks <= 1)
        {
            Launch(Kernel.SumReduce, Blocks(1), Block(Threads), 0, (int)f, x, n, result, (float)alpha, accumulate);
            return;
        }
        var partial = KernelArgument.Pointer(Scratch(blocks)); // [blocks]
        Launch(Kernel.SumReduce, Blocks(blocks), Block(Threads), 0, (int)f, x, n, partial, 1f, false);
        Launch(Kernel.SumReduce, Blocks(1), Block(Threads), 0, SumValues, partial, blocks, result, (float)alpha, accumulate);
    }

    protected override void AddL1GradientCore(DeviceView param, DeviceView grad, long n, double lambda) =>
        Launch(Kernel.AddL1Gradient, Elements(n), Block(Threads), 0, param, grad, (float)lambda, n);

    protected override void ClipByNormCore(DeviceView x, long n, DeviceView sumSquares, double maxNorm) =>
        Launch(Kernel.ClipByNorm, Elements(n), Block(Threads), 0, x, sumSquares, (float)maxNorm, n);
}
