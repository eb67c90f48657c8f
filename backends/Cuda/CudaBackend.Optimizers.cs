using static KernelLab.Backends.Cuda.Native.CudaDriver;

namespace KernelLab.Backends.Cuda;

// The optimizers of optimizers.cu: one tensor per launch (OptimizerStep of one tensor), or every tensor of a list in one
// launch from a device table of the tensors (the multi-tensor OptimizerStep, what a training step calls). The host's
// scalars (bias corrections, 1 - beta) are worked out once, in OptimizerScalars, for both.
public sealed partial class CudaBackend
{
    private const int TensorChunk = 1024; // optimizers.cu: TENSOR_CHUNK, elements per block of a *_step_tensors launch
    private const int TensorWords = 7;    // optimizers.cu: the 8-byte words of one OptimizerTensor

    private ulong[] _tensorTableHost = []; // [tensors, TensorWords]: the table last uploaded, which each call's list is compared with
    private ulong _tensorTable;            // on the device: that table, then the block-to-tensor map [_tensorBlocks] int
    private long _tensorTableBytes;        // the device allocation's size
    private long _tensorBlocks;            // blocks of a launch over the table

    protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer) =>
        LaunchOptimizer(Kernel.SgdStep, Elements(param.Length), s, step, [param, grad, momentumBuffer, param.Length]);

    protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq) =>
        LaunchOptimizer(Kernel.AdamStep, Elements(param.Length), s, step, [param, grad, expAvg, expAvgSq, param.Length]);

    protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg) =>
        LaunchOptimizer(Kernel.RmsPropStep, Elements(param.Length), s, step: 1 /* RMSprop's update does not depend on it */, [param, grad, squareAvg, momentumBuffer, gradAvg, param.Length]);

    protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum) =>
        LaunchOptimizer(Kernel.AdagradStep, Elements(param.Length), s, step, [param, grad, stateSum, param.Length]);

    /// <summary>
    /// One launch for every tensor. The device table is written when the list's buffers differ from the last call's (the
    /// addresses are compared, which is cheap), so a steady training step, which passes the same buffers, copies nothing.
    /// </summary>
    protected override void OptimizerStepCore(OptimizerSettings s, int step, ReadOnlySpan<OptimizerTensor> tensors)
    {
        var kernel = s.Kind switch
        {
            OptimizerKind.Sgd => Kernel.SgdStepTensors,
            OptimizerKind.Adam or OptimizerKind.AdamW => Kernel.AdamStepTensors,
            OptimizerKind.RmsProp => Kernel.RmsPropStepTensors,
            OptimizerKind.Adagrad => Kernel.AdagradStepTensors,
            _ => throw new ArgumentOutOfRangeException(nameof(s)),
        };
        if (!TensorTableHolds(tensors))
            UploadTensorTable(tensors);
        ulong blockTensor = _tensorTable + (ulong)_tensorTableHost.Length * sizeof(ulong);
        LaunchOptimizer(kernel, Blocks(_tensorBlocks), s, step, [KernelArgument.Pointer(_tensorTable), KernelArgument.Pointer(blockTensor)]);
    }

    /// <summary>Launches <paramref name="kernel"/> with <paramref name="tensorArguments"/> (pointers, lengths), then the optimizer's scalars.</summary>
    private void LaunchOptimizer(KernelSignature kernel, (long, long) grid, OptimizerSettings s, int step, ReadOnlySpan<KernelArgument> tensorArguments)
    {
        Span<KernelArgument> arguments = stackalloc KernelArgument[kernel.Parameters.Length];
        tensorArguments.CopyTo(arguments);
        OptimizerScalars(s, step, arguments[tensorArguments.Length..]);
        Launch(kernel, grid, Block(Threads), 0, arguments);
    }

    /// <summary>The scalar parameters of <paramref name="s"/>'s kernels at <paramref name="step"/>, in their order in optimizers.cu.</summary>
    private static void OptimizerScalars(OptimizerSettings s, int step, Span<KernelArgument> a)
    {
        switch (s.Kind)
        {
            case OptimizerKind.Sgd:
                (a[0], a[1], a[2], a[3], a[4], a[5], a[6]) = (s.LearningRate, s.WeightDecay, s.Momentum != 0, s.Momentum, 1 - s.Dampening, s.Nesterov, step == 1);
                break;
            case OptimizerKind.Adam:
            case OptimizerKind.AdamW:
                double biasCorrection1 = 1 - Math.Pow(s.Beta1, step);
                double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(s.Beta2, step));
                (a[0], a[1], a[2], a[3], a[4], a[5], a[6]) = (s.Kind == OptimizerKind.AdamW, s.WeightDecay, 1 - s.LearningRate * s.WeightDecay, s.Beta1, 1 - s.Beta1, s.Beta2, 1 - s.Beta2);
                (a[7], a[8], a[9]) = (s.LearningRate / biasCorrection1, biasCorrection2Sqrt, s.Eps);
                break;
            case OptimizerKind.RmsProp:
                (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]) = (s.LearningRate, s.Alpha, 1 - s.Alpha, s.Eps, s.WeightDecay, s.Momentum > 0, s.Momentum, s.Centered);
                break;
            case OptimizerKind.Adagrad:
                (a[0], a[1], a[2]) = (s.LearningRate / (1 + (step - 1) * s.LearningRateDecay), s.Eps, s.WeightDecay);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(s));
        }
    }

    private bool TensorTableHolds(ReadOnlySpan<OptimizerTensor> tensors)
    {
        if (_tensorTableHost.Length != tensors.Length * TensorWords)
            return false;
        Span<ulong> words = stackalloc ulong[TensorWords];
        long firstBlock = 0;
        for (int i = 0; i < tensors.Length; i++)
        {
            firstBlock = DescribeTensor(tensors[i], firstBlock, words);
            if (!words.SequenceEqual(_tensorTableHost.AsSpan(i * TensorWords, TensorWords)))
                return false;
        }
        return true;
    }

    /// <summary>Writes the table and the block map for <paramref name="tensors"/>: on the first step, and whenever the buffers change.</summary>
    private unsafe void UploadTensorTable(ReadOnlySpan<OptimizerTensor> tensors)
    {
        var table = new ulong[tensors.Length * TensorWords]; // [tensors, TensorWords]
        long blocks = 0;
        for (int i = 0; i < tensors.Length; i++)
            blocks = DescribeTensor(tensors[i], blocks, table.AsSpan(i * TensorWords, TensorWords));
        var blockTensor = new int[blocks]; // [blocks]: the tensor each block updates
        for (int i = 0, b = 0; i < tensors.Length; i++)
            for (long chunks = Chunks(tensors[i].Param.Length); chunks > 0; chunks--)
                blockTensor[b++] = i;
        long bytes = table.Length * sizeof(ulong) + blocks * sizeof(int);
        Synchronize(); // a queued launch may still read the old table
        if (bytes > _tensorTableBytes)
        {
            Free(_tensorTable);
            _tensorTable = AllocateBytes(bytes);
            _tensorTableBytes = bytes;
        }
        Enter();
        fixed (ulong* t = table)
        fixed (int* m = blockTensor)
        {
            if (table.Length > 0)
                Check(cuMemcpyHtoD_v2(_tensorTable, t, (nuint)(table.Length * sizeof(ulong))));
            if (blocks > 0)
                Check(cuMemcpyHtoD_v2(_tensorTable + (ulong)(table.Length * sizeof(ulong)), m, (nuint)(blocks * sizeof(int))));
        }
        _tensorTableHost = table;
        _tensorBlocks = blocks;
    }

    /// <summary>One tensor's words of the table (optimizers.cu's OptimizerTensor), its blocks starting at <paramref name="firstBlock"/>; returns the next tensor's first block.</summary>
    private static long DescribeTensor(OptimizerTensor t, long firstBlock, Span<ulong> words)
    {
        words[0] = Address(t.Param);
        words[1] = Address(t.Grad);
        for (int k = 0; k < 3; k++)
            words[2 + k] = k < t.State.Length ? Address(t.State[k]) : 0;
        words[5] = (ulong)t.Param.Length;
        words[6] = (ulong)firstBlock;
        return firstBlock + Chunks(t.Param.Length);
    }

    private static long Chunks(long n) => (n + TensorChunk - 1) / TensorChunk;
}
