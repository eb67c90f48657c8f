using System.Reflection;

namespace KernelLab.Backends.Cuda;

/// <summary>How one kernel parameter is passed: a device pointer, an int (or unsigned int), a long long, a float or a double.</summary>
internal enum KernelParameter
{
    Pointer,
    Int32,
    Int64,
    Float32,
    Float64,
}

/// <summary>
/// A kernel of <c>kernels/cuda</c>: its source, its (extern "C", so unmangled) name and its parameter list exactly as the
/// CUDA C declares it. Every launch is checked against it, and a test checks it against the PTX NVRTC writes, so a launch
/// cannot pass arguments of the wrong number or size.
/// </summary>
internal sealed record KernelSignature(string Source, string Name, params KernelParameter[] Parameters)
{
    public override string ToString() => $"{Source}:{Name}({string.Join(", ", Parameters)})";
}

/// <summary>Every kernel the backend launches.</summary>
internal static class Kernel
{
    private const KernelParameter P = KernelParameter.Pointer, I = KernelParameter.Int32, L = KernelParameter.Int64, F = KernelParameter.Float32, D = KernelParameter.Float64;

    private const string Elementwise = "elementwise.cu", Tiled = "gemm.cu", Reductions = "reductions.cu";
    private const string Convolution = "convolution.cu", Sequence = "sequence.cu", Optimizers = "optimizers.cu";

    public static readonly KernelSignature Fill = new(Elementwise, "fill", P, F, L);
    public static readonly KernelSignature Add = new(Elementwise, "add", P, P, P, L);
    public static readonly KernelSignature Multiply = new(Elementwise, "multiply", P, P, P, L);
    public static readonly KernelSignature ActivationForward = new(Elementwise, "activation_forward", I, P, P, L);
    public static readonly KernelSignature ActivationBackward = new(Elementwise, "activation_backward", I, P, P, P, P, L);
    public static readonly KernelSignature AddBias = new(Elementwise, "add_bias", P, P, I, I, L);
    public static readonly KernelSignature DropoutForward = new(Elementwise, "dropout_forward", P, P, P, L, I, F, I, I, I, I, I);
    public static readonly KernelSignature BatchNormEvalForward = new(Elementwise, "batchnorm_eval_forward", P, P, P, P, P, P, I, I, F, L);
    public static readonly KernelSignature AddL1Gradient = new(Elementwise, "add_l1_gradient", P, P, F, L);
    public static readonly KernelSignature ClipByNorm = new(Elementwise, "clip_by_norm", P, P, F, L);

    public static readonly KernelSignature Gemm128 = new(Tiled, "gemm_128", I, I, I, I, I, I, P, P, P, F, I);
    public static readonly KernelSignature Gemm64 = new(Tiled, "gemm_64", I, I, I, I, I, I, P, P, P, F, I);
    public static readonly KernelSignature GemmSplitSum = new(Tiled, "gemm_split_sum", P, P, I, L, F, I);

    public static readonly KernelSignature BiasBackward = new(Reductions, "bias_backward", P, P, I, I, I, I);
    public static readonly KernelSignature BiasBackwardColumns = new(Reductions, "bias_backward_columns", P, P, I, I, I, I);
    public static readonly KernelSignature LayerNormForward = new(Reductions, "layernorm_forward", P, P, P, P, P, P, I, F);
    public static readonly KernelSignature LayerNormBackwardData = new(Reductions, "layernorm_backward_data", P, P, P, P, P, P, I);
    public static readonly KernelSignature LayerNormBackwardParams = new(Reductions, "layernorm_backward_params", P, P, P, P, P, P, I, I);
    public static readonly KernelSignature SoftmaxCrossEntropy = new(Reductions, "softmax_cross_entropy", P, P, P, P, P, P, I, I);
    public static readonly KernelSignature BatchNormTrainingForward = new(Reductions, "batchnorm_training_forward", P, P, P, P, P, P, P, P, I, I, I, F, F);
    public static readonly KernelSignature BatchNormTrainingForwardColumns = new(Reductions, "batchnorm_training_forward_columns", P, P, P, P, P, P, P, P, I, I, I, F, F);
    public static readonly KernelSignature BatchNormBackward = new(Reductions, "batchnorm_backward", P, P, P, P, P, P, P, P, I, I, I);
    public static readonly KernelSignature BatchNormBackwardColumns = new(Reductions, "batchnorm_backward_columns", P, P, P, P, P, P, P, P, I, I, I);
    public static readonly KernelSignature SumReduce = new(Reductions, "sum_reduce", I, P, L, P, F, I);

    public static readonly KernelSignature Conv2dForward = new(Convolution, "conv2d_forward", P, P, P, P, I, I, I, I, I, I);
    public static readonly KernelSignature Conv2dBackwardData = new(Convolution, "conv2d_backward_data", P, P, P, I, I, I, I, I, I);
    public static readonly KernelSignature Conv2dBackwardWeight = new(Convolution, "conv2d_backward_weight", P, P, P, I, I, I, I, I, I, L);
    public static readonly KernelSignature Conv2dBackwardWeightSlices = new(Convolution, "conv2d_backward_weight_slices", P, P, I, L);
    public static readonly KernelSignature MaxPool2dForward = new(Convolution, "maxpool2d_forward", P, P, P, I, I, I);
    public static readonly KernelSignature MaxPool2dBackward = new(Convolution, "maxpool2d_backward", P, P, P, I, I, I);

    public static readonly KernelSignature EmbeddingForward = new(Sequence, "embedding_forward", P, P, P, I, L);
    public static readonly KernelSignature EmbeddingBackward = new(Sequence, "embedding_backward", P, P, P, I, I);
    public static readonly KernelSignature LstmCellForward = new(Sequence, "lstm_cell_forward", P, P, P, P, P, I, I);
    public static readonly KernelSignature LstmCellBackward = new(Sequence, "lstm_cell_backward", P, P, P, P, P, P, P, I, I);
    public static readonly KernelSignature GruCellForward = new(Sequence, "gru_cell_forward", P, P, P, P, P, I, I);
    public static readonly KernelSignature GruCellBackward = new(Sequence, "gru_cell_backward", P, P, P, P, P, P, P, I, I);
    public static readonly KernelSignature AttentionForward = new(Sequence, "attention_forward", P, P, P, I, I, I, F);
    public static readonly KernelSignature AttentionBackwardQuery = new(Sequence, "attention_backward_query", P, P, P, P, P, I, I, I, F);
    public static readonly KernelSignature AttentionBackwardKeyValue = new(Sequence, "attention_backward_key_value", P, P, P, P, P, I, I, I, L);

    public static readonly KernelSignature SgdStep = new(Optimizers, "sgd_step", P, P, P, L, D, D, I, D, D, I, I);
    public static readonly KernelSignature AdamStep = new(Optimizers, "adam_step", P, P, P, P, L, I, D, D, D, D, D, D, D, D, D);
    public static readonly KernelSignature RmsPropStep = new(Optimizers, "rmsprop_step", P, P, P, P, P, L, D, D, D, D, D, I, D, I);
    public static readonly KernelSignature AdagradStep = new(Optimizers, "adagrad_step", P, P, P, L, D, D, D);
    public static readonly KernelSignature SgdStepTensors = new(Optimizers, "sgd_step_tensors", P, P, D, D, I, D, D, I, I);
    public static readonly KernelSignature AdamStepTensors = new(Optimizers, "adam_step_tensors", P, P, I, D, D, D, D, D, D, D, D, D);
    public static readonly KernelSignature RmsPropStepTensors = new(Optimizers, "rmsprop_step_tensors", P, P, D, D, D, D, D, I, D, I);
    public static readonly KernelSignature AdagradStepTensors = new(Optimizers, "adagrad_step_tensors", P, P, D, D, D);

    public static IReadOnlyList<KernelSignature> All { get; } =
        [.. typeof(Kernel).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(KernelSignature))
            .Select(f => (KernelSignature)f.GetValue(null)!)];
}

/// <summary>One kernel argument: its kind and its bits (a float's or an int's in the low four bytes), as cuLaunchKernel reads them.</summary>
internal readonly record struct KernelArgument(KernelParameter Kind, ulong Bits)
{
    public static implicit operator KernelArgument(int value) => new(KernelParameter.Int32, unchecked((uint)value));

    public static implicit operator KernelArgument(uint value) => new(KernelParameter.Int32, value);

    public static implicit operator KernelArgument(long value) => new(KernelParameter.Int64, unchecked((ulong)value));

    public static implicit operator KernelArgument(float value) => new(KernelParameter.Float32, BitConverter.SingleToUInt32Bits(value));

    public static implicit operator KernelArgument(double value) => new(KernelParameter.Float64, BitConverter.DoubleToUInt64Bits(value));

    public static implicit operator KernelArgument(bool value) => new(KernelParameter.Int32, value ? 1u : 0u);

    /// <summary>A view is passed as its element's address: the buffer's base plus the offset in floats.</summary>
    public static implicit operator KernelArgument(DeviceView view) =>
        Pointer(((CudaBackend.CudaBuffer)view.Buffer).Address + (ulong)view.Offset * sizeof(float));

    public static implicit operator KernelArgument(DeviceIndexBuffer indices) => Pointer(((CudaBackend.CudaIndexBuffer)indices).Address);

    public static KernelArgument Pointer(ulong address) => new(KernelParameter.Pointer, address);

    /// <summary>Writes each argument's bits to values[i] and its address to pointers[i]: the kernelParams array that cuLaunchKernel and kernel nodes take.</summary>
    public static unsafe void Marshal(ReadOnlySpan<KernelArgument> arguments, ulong* values, nint* pointers)
    {
        for (int i = 0; i < arguments.Length; i++)
        {
            values[i] = arguments[i].Bits;
            pointers[i] = (nint)(values + i);
        }
    }
}

/// <summary>A launch without its arguments: the kernel, its grid and block (two-dimensional), and its dynamic shared memory.</summary>
internal readonly record struct LaunchShape(KernelSignature Kernel, uint GridX, uint GridY, uint BlockX, uint BlockY, uint SharedBytes);
