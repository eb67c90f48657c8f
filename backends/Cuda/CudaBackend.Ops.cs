namespace KernelLab.Backends.Cuda;

// The ops: each picks the launch shape its kernel in kernels/cuda expects (noted at the kernel) and passes host scalars as float.
public sealed partial class CudaBackend
{
    private const int Threads = 256;          // element-wise and row-reduction blocks (a multiple of 32)
    private const int AttentionThreads = 128; // attention blocks, one per query
    private const int ColumnsX = 32, ColumnsY = 8; // reductions.cu: COLUMNS_X, COLUMNS_Y
    private const int EmbeddingThreads = 256;      // sequence.cu: EMBEDDING_THREADS

    /// <summary>Blocks for a grid-stride kernel over n elements; beyond the cap each thread takes several.</summary>
    private static (long, long) Elements(long n) => (Math.Min((n + Threads - 1) / Threads, 1 << 20), 1);

    private static (long, long) Blocks(long count) => (count, 1);

    private static (int, int) Block(int threads) => (threads, 1);

    protected override void FillCore(DeviceView y, double value) =>
        Launch(Kernel.Fill, Elements(y.Length), Block(Threads), 0, y, (float)value, y.Length);

    protected override void AddCore(DeviceView a, DeviceView b, DeviceView y, long n) =>
        Launch(Kernel.Add, Elements(n), Block(Threads), 0, a, b, y, n);

    protected override void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n) =>
        Launch(Kernel.ActivationForward, Elements(n), Block(Threads), 0, (int)f, x, y, n);

    protected override void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n) =>
        Launch(Kernel.ActivationBackward, Elements(n), Block(Threads), 0, (int)f, x, y, dy, dx, n);

    /// <summary>The kernel, tiles and split of k that <see cref="GemmPlan"/> picks for the shape on this device's SMs.</summary>
    protected override void GemmCore(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, double alpha, bool accumulate)
    {
        var plan = GemmPlan.For(m, n, k, Info.ComputeUnits);
        if (plan.Splits == 1)
        {
            Launch(plan.TileKernel, plan.Grid, Block(GemmPlan.Threads), 0, transposeA, transposeB, m, n, k, plan.SplitK, a, b, c, (float)alpha, accumulate);
            return;
        }
        // Each slice of k writes its partial product [m, n] to scratch [splits, m, n]; one more launch adds them into c.
        var partial = KernelArgument.Pointer(Scratch(plan.ScratchLength));
        Launch(plan.TileKernel, plan.Grid, Block(GemmPlan.Threads), 0, transposeA, transposeB, m, n, k, plan.SplitK, a, b, partial, 1f, false);
        long mn = (long)m * n;
        Launch(Kernel.GemmSplitSum, Elements(mn), Block(Threads), 0, partial, c, plan.Splits, mn, (float)alpha, accumulate);
    }

    protected override void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner)
    {
        long n = (long)outer * channels * inner;
        Launch(Kernel.AddBias, Elements(n), Block(Threads), 0, y, bias, channels, inner, n);
    }

    protected override void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate) =>
        Launch(Kernel.BiasBackward, Blocks(channels), Block(Threads), 0, dy, dBias, outer, channels, inner, accumulate);

    protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView y, Conv2dShape s) =>
        Launch(Kernel.Conv2dForward, Elements(s.OutputLength), Block(Threads), 0,
            x, w, y, s.Batch, s.InChannels, s.OutChannels, s.Height, s.Width, s.KernelSize);

    protected override void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s) =>
        Launch(Kernel.Conv2dBackwardData, Elements(s.InputLength), Block(Threads), 0,
            dy, w, dx, s.Batch, s.InChannels, s.OutChannels, s.Height, s.Width, s.KernelSize);

    protected override void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s) =>
        Launch(Kernel.Conv2dBackwardWeight, Blocks(s.WeightLength), Block(Threads), 0,
            x, dy, dw, s.Batch, s.InChannels, s.OutChannels, s.Height, s.Width, s.KernelSize);

    protected override void MaxPool2dForwardCore(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s) =>
        Launch(Kernel.MaxPool2dForward, Elements(s.OutputLength), Block(Threads), 0, x, y, argMax, s.Planes, s.Height, s.Width);

    protected override void MaxPool2dBackwardCore(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s) =>
        Launch(Kernel.MaxPool2dBackward, Elements(s.InputLength), Block(Threads), 0, dy, argMax, dx, s.Planes, s.Height, s.Width);

    protected override void EmbeddingForwardCore(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim)
    {
        long n = (long)count * dim;
        Launch(Kernel.EmbeddingForward, Elements(n), Block(Threads), 0, ids, table, y, dim, n);
    }

    protected override void EmbeddingBackwardCore(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim) =>
        Launch(Kernel.EmbeddingBackward, Blocks(vocab), Block(EmbeddingThreads), 0, ids, dy, dTable, count, dim);

    protected override void LstmCellForwardCore(DeviceView preact, DeviceView cPrev, DeviceView gates, DeviceView c, DeviceView h, int batch, int hidden) =>
        Launch(Kernel.LstmCellForward, Elements((long)batch * hidden), Block(Threads), 0, preact, cPrev, gates, c, h, batch, hidden);

    protected override void LstmCellBackwardCore(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden) =>
        Launch(Kernel.LstmCellBackward, Elements((long)batch * hidden), Block(Threads), 0, gates, cPrev, c, dh, dc, dPreact, dcPrev, batch, hidden);

    protected override void GruCellForwardCore(DeviceView gi, DeviceView gh, DeviceView hPrev, DeviceView gates, DeviceView h, int batch, int hidden) =>
        Launch(Kernel.GruCellForward, Elements((long)batch * hidden), Block(Threads), 0, gi, gh, hPrev, gates, h, batch, hidden);

    protected override void GruCellBackwardCore(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden) =>
        Launch(Kernel.GruCellBackward, Elements((long)batch * hidden), Block(Threads), 0, gates, gh, hPrev, dh, dGi, dGh, dhPrev, batch, hidden);

    protected override void LayerNormForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, double eps) =>
        Launch(Kernel.LayerNormForward, Blocks(rows), Block(Threads), 0, x, weight, bias, y, mean, rstd, cols, (float)eps);

    protected override void LayerNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols)
    {
        Launch(Kernel.LayerNormBackwardData, Blocks(rows), Block(Threads), 0, dy, x, weight, mean, rstd, dx, cols);
        Launch(Kernel.LayerNormBackwardParams, Blocks((cols + ColumnsX - 1) / ColumnsX), (ColumnsX, ColumnsY), 0, dy, x, mean, rstd, dWeight, dBias, rows, cols);
    }

    protected override void AttentionForwardCore(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s) =>
        Launch(Kernel.AttentionForward, Blocks((long)s.Batch * s.Heads * s.T), Block(AttentionThreads), 0,
            qkv, y, probabilities, s.T, s.Channels, s.Heads, AttentionScale(s));

    protected override void AttentionBackwardCore(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s)
    {
        // The queries' rows of the score gradient [B, heads, T, T] go to scratch, from which the keys and values gather theirs.
        var dScores = KernelArgument.Pointer(Scratch(s.ProbabilitiesLength));
        Launch(Kernel.AttentionBackwardQuery, Blocks((long)s.Batch * s.Heads * s.T), Block(AttentionThreads), RequireSharedMemory(s.T * sizeof(float)),
            dy, qkv, probabilities, dScores, dQkv, s.T, s.Channels, s.Heads, AttentionScale(s));
        long keysAndValues = 2L * s.Batch * s.T * s.Channels;
        Launch(Kernel.AttentionBackwardKeyValue, Elements(keysAndValues), Block(Threads), 0,
            dy, qkv, probabilities, dScores, dQkv, s.T, s.Channels, s.Heads, keysAndValues);
    }

    private static float AttentionScale(AttentionShape s) => (float)(1 / Math.Sqrt(s.HeadSize));

    /// <summary>Dynamic shared memory within what every device grants a block without opting in (48 KiB).</summary>
    private static int RequireSharedMemory(int bytes) => bytes <= 48 * 1024
        ? bytes
        : throw new KernelLabException($"a kernel needs {bytes} bytes of shared memory per block, more than the 49152 every CUDA device grants");

    protected override void SoftmaxCrossEntropyForwardCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView probabilities, DeviceView loss, int rows, int classes)
    {
        // The mean is reduced on the device: the rows' losses go to scratch, then one block adds them up.
        var rowLoss = KernelArgument.Pointer(Scratch(rows));
        Launch(Kernel.SoftmaxCrossEntropyForward, Blocks(rows), Block(Threads), 0, logits, targets, probabilities, rowLoss, classes);
        Launch(Kernel.MeanLoss, Blocks(1), Block(Threads), 0, rowLoss, loss, rows);
    }

    protected override void SoftmaxCrossEntropyBackwardCore(DeviceView probabilities, DeviceIndexBuffer targets, DeviceView dLogits, int rows, int classes) =>
        Launch(Kernel.SoftmaxCrossEntropyBackward, Elements((long)rows * classes), Block(Threads), 0, probabilities, targets, dLogits, rows, classes);

    // ---------------------------------------------------------------- optimizers

    protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer) =>
        Launch(Kernel.SgdStep, Elements(param.Length), Block(Threads), 0,
            param, grad, momentumBuffer, param.Length, s.LearningRate, s.WeightDecay,
            s.Momentum != 0, s.Momentum, (1 - s.Dampening), s.Nesterov, step == 1);

    protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq)
    {
        double biasCorrection1 = 1 - Math.Pow(s.Beta1, step);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(s.Beta2, step));
        Launch(Kernel.AdamStep, Elements(param.Length), Block(Threads), 0,
            param, grad, expAvg, expAvgSq, param.Length,
            s.Kind == OptimizerKind.AdamW, s.WeightDecay, (1 - s.LearningRate * s.WeightDecay),
            s.Beta1, (1 - s.Beta1), s.Beta2, (1 - s.Beta2),
            (s.LearningRate / biasCorrection1), biasCorrection2Sqrt, s.Eps);
    }

    protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg) =>
        Launch(Kernel.RmsPropStep, Elements(param.Length), Block(Threads), 0,
            param, grad, squareAvg, momentumBuffer, gradAvg, param.Length,
            s.LearningRate, s.Alpha, (1 - s.Alpha), s.Eps, s.WeightDecay,
            s.Momentum > 0, s.Momentum, s.Centered);

    protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum) =>
        Launch(Kernel.AdagradStep, Elements(param.Length), Block(Threads), 0,
            param, grad, stateSum, param.Length,
            (s.LearningRate / (1 + (step - 1) * s.LearningRateDecay)), s.Eps, s.WeightDecay);
}
