using System.Diagnostics;
using static KernelLab.Backends.Cuda.Native.CudaDriver;

namespace KernelLab.Backends.Cuda;

// The ops: each picks the launch shape its kernel in kernels/cuda expects (noted at the kernel) and passes host scalars as float.
public sealed partial class CudaBackend
{
    private const int Threads = 256;          // element-wise and row-reduction blocks (a multiple of 32)
    private const int AttentionThreads = 128; // attention blocks, one per query
    private const int ColumnsX = 32, ColumnsY = 8; // reductions.cu: COLUMNS_X, COLUMNS_Y
    private const int EmbeddingThreads = 256;      // sequence.cu: EMBEDDING_THREADS
    private const int ConvTile = 64, ConvTileK = 16, ConvThreads = 256; // convolution.cu: CONV_TILE_M = CONV_TILE_N, CONV_TILE_K, CONV_THREADS

    // Backward weight's split of its reduction over the batch * H * W pixels: about two blocks for each of an H200's 132
    // SMs in all, a figure fixed here rather than read from the device so that the order of the sum depends on the shape
    // alone; and no slice under 256 pixels (16 depth steps), so a block reads 128 KB of operands for the 16 KB partial
    // tile it writes and the second pass reads back.
    private const int ConvSplitBlocks = 264, ConvMinSlicePixels = 256;

    // The per-channel reductions take reductions.cu's _columns layout (threads across channels) below 8 values a row, one
    // 32-byte sector: one block per channel would fetch whole sectors there to use less than each.
    private const int ColumnsBelowInner = 8;

    /// <summary>Blocks for a grid-stride kernel over n elements; beyond the cap each thread takes several.</summary>
    private static (long, long) Elements(long n) => (Math.Min((n + Threads - 1) / Threads, 1 << 20), 1);

    private static (long, long) Blocks(long count) => (count, 1);

    private static (int, int) Block(int threads) => (threads, 1);

    /// <summary>Tiles of <paramref name="tile"/> that cover n.</summary>
    private static long Tiles(long n, long tile) => (n + tile - 1) / tile;

    /// <summary>
    /// A reduction per channel of [outer, channels, inner]: <paramref name="columns"/> (COLUMNS_X channels a block) where
    /// inner is below <see cref="ColumnsBelowInner"/>, else <paramref name="perChannel"/> (a block per channel). Both take the same arguments.
    /// </summary>
    private void LaunchPerChannel(KernelSignature perChannel, KernelSignature columns, int channels, int inner, params ReadOnlySpan<KernelArgument> arguments)
    {
        if (inner < ColumnsBelowInner)
            Launch(columns, Blocks(Tiles(channels, ColumnsX)), (ColumnsX, ColumnsY), 0, arguments);
        else
            Launch(perChannel, Blocks(channels), Block(Threads), 0, arguments);
    }

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
        LaunchPerChannel(Kernel.BiasBackward, Kernel.BiasBackwardColumns, channels, inner, dy, dBias, outer, channels, inner, accumulate);

    // The convolution's passes are implicit GEMMs (convolution.cu): a tile per block of the [channels, batch * H * W]
    // output of the forward and the backward data, of the [outC, inC * K * K] of backward weight. The forward adds the
    // bias as it writes y: one launch and one pass over y.
    protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView bias, DeviceView y, Conv2dShape s) =>
        Launch(Kernel.Conv2dForward, (Tiles(Pixels(s), ConvTile), Tiles(s.OutChannels, ConvTile)), Block(ConvThreads), 0,
            x, w, bias, y, s.Batch, s.InChannels, s.OutChannels, s.Height, s.Width, s.KernelSize);

    // The contract's forward always has its bias, which the override above adds in the kernel's epilogue.
    protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView y, Conv2dShape s) =>
        throw new UnreachableException("the cuda backend's convolution forward is the one with its bias");

    protected override void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s) =>
        Launch(Kernel.Conv2dBackwardData, (Tiles(Pixels(s), ConvTile), Tiles(s.InChannels, ConvTile)), Block(ConvThreads), 0,
            dy, w, dx, s.Batch, s.InChannels, s.OutChannels, s.Height, s.Width, s.KernelSize);

    protected override void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s)
    {
        long tilesN = Tiles((long)s.InChannels * s.KernelSize * s.KernelSize, ConvTile), tilesM = Tiles(s.OutChannels, ConvTile);
        var (slices, pixelsPerSlice) = ConvWeightSlices(tilesM * tilesN, Pixels(s));
        // With one slice the blocks write dw; with more, their partial sums [slices, outC, inC * K * K] go to scratch.
        KernelArgument output = slices == 1 ? dw : KernelArgument.Pointer(Scratch(slices * s.WeightLength));
        Launch(Kernel.Conv2dBackwardWeight, (tilesN, tilesM * slices), Block(ConvThreads), 0,
            x, dy, output, s.Batch, s.InChannels, s.OutChannels, s.Height, s.Width, s.KernelSize, pixelsPerSlice);
        if (slices > 1)
            Launch(Kernel.Conv2dBackwardWeightSlices, Elements(s.WeightLength), Block(Threads), 0, output, dw, slices, s.WeightLength);
    }

    private static long Pixels(Conv2dShape s) => (long)s.Batch * s.Height * s.Width;

    /// <summary>
    /// How backward weight splits its reduction over <paramref name="pixels"/>: into slices of PixelsPerSlice (a multiple
    /// of CONV_TILE_K), enough for about <see cref="ConvSplitBlocks"/> blocks of the output's <paramref name="tiles"/> in
    /// all, none under <see cref="ConvMinSlicePixels"/>. A function of the shape alone, as the order of the sum must be.
    /// </summary>
    private static (int Slices, long PixelsPerSlice) ConvWeightSlices(long tiles, long pixels)
    {
        long wanted = tiles == 0 ? 1 : Math.Min(Tiles(pixels, ConvMinSlicePixels), Tiles(ConvSplitBlocks, tiles));
        if (wanted <= 1)
            return (1, pixels);
        long perSlice = Tiles(Tiles(pixels, wanted), ConvTileK) * ConvTileK;
        return ((int)Tiles(pixels, perSlice), perSlice);
    }

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

    protected override void SoftmaxCrossEntropyCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView loss, DeviceView dLogits, int rows, int classes)
    {
        // One launch: the rows' losses go to scratch, and the last block to finish takes their mean (see the kernel).
        var rowLoss = KernelArgument.Pointer(Scratch(rows));
        Launch(Kernel.SoftmaxCrossEntropy, Blocks(rows), Block(Threads), 0, logits, targets, rowLoss, KernelArgument.Pointer(LossTicket()), loss, dLogits, rows, classes);
    }

    private ulong _lossTicket; // [1] int: blocks of softmax_cross_entropy finished in the launch in flight; 0 between launches

    /// <summary>The ticket counter, allocated and zeroed on first use (the kernel's last block sets it back to 0).</summary>
    private unsafe ulong LossTicket()
    {
        if (_lossTicket == 0)
        {
            _lossTicket = AllocateBytes(sizeof(int));
            int zero = 0;
            Enter();
            Check(cuMemcpyHtoD_v2(_lossTicket, &zero, sizeof(int)));
        }
        return _lossTicket;
    }
}
