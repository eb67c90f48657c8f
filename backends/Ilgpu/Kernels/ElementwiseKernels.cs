using ILGPU;
using ILGPU.Algorithms;

namespace KernelLab.Backends.Ilgpu.Kernels;

/// <summary>Fill, add, multiply, activations and bias: one thread per element (implicitly grouped) unless said otherwise.</summary>
internal static class ElementwiseKernels
{
    private const float Sqrt2OverPi = 0.7978845608028654f, GeluCubic = 0.044715f;

    // The order of KernelLab.Backends.Activation.
    private const int Relu = 0, GeluTanh = 1, Sigmoid = 2;

    public static void Fill(Index1D i, ArrayView<float> y, float value) => y[i] = value;

    /// <summary>y may be a or b.</summary>
    public static void Add(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) => y[i] = a[i] + b[i];

    /// <summary>y may be a or b.</summary>
    public static void Multiply(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) => y[i] = a[i] * b[i];

    /// <summary>y may be x.</summary>
    public static void ActivationForward(Index1D i, int f, ArrayView<float> x, ArrayView<float> y) => y[i] = Activate(f, x[i]);

    /// <summary>dx = f'(x) dy, with sigmoid and tanh taken from the output y as the reference does. dx may be dy.</summary>
    public static void ActivationBackward(Index1D i, int f, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx) =>
        dx[i] = Derivative(f, x[i], y[i]) * dy[i];

    public static float SigmoidOf(float x) => 1.0f / (1.0f + XMath.Exp(-x));

    private static float Activate(int f, float x)
    {
        if (f == Relu)
            return x <= 0.0f ? 0.0f : x; // as PyTorch's threshold: NaN passes through
        if (f == GeluTanh)
            return 0.5f * x * (1.0f + XMath.Tanh(Sqrt2OverPi * (x + GeluCubic * x * x * x)));
        return f == Sigmoid ? SigmoidOf(x) : XMath.Tanh(x);
    }

    private static float Derivative(int f, float x, float y)
    {
        if (f == Relu)
            return x <= 0.0f ? 0.0f : 1.0f;
        if (f == GeluTanh)
        {
            float t = XMath.Tanh(Sqrt2OverPi * (x + GeluCubic * x * x * x));
            float du = Sqrt2OverPi * (1.0f + 3.0f * GeluCubic * x * x);
            return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
        }
        return f == Sigmoid ? y * (1.0f - y) : 1.0f - y * y;
    }

    /// <summary>y [outer, channels, inner] += bias[channel].</summary>
    public static void AddBias(Index1D i, ArrayView<float> y, ArrayView<float> bias, int channels, int inner) =>
        y[i] += bias[i / inner % channels];

    /// <summary>dBias[c] = sum over rows of dy [outer, channels] (inner = 1): one thread per channel, reading along rows.</summary>
    public static void BiasBackwardColumns(Index1D c, ArrayView<float> dy, ArrayView<float> dBias, int outer, int channels, int accumulate)
    {
        float sum = 0.0f;
        for (int o = 0; o < outer; o++)
            sum += dy[o * channels + c];
        dBias[c] = sum + (accumulate != 0 ? dBias[c] : 0.0f);
    }

    /// <summary>dBias[c] = sum over o, i of dy [outer, channels, inner]: one group per channel.</summary>
    public static void BiasBackwardPlanes(ArrayView<float> dy, ArrayView<float> dBias, int outer, int channels, int inner, int accumulate)
    {
        int c = Grid.IdxX;
        float sum = 0.0f;
        for (int j = Group.IdxX; j < outer * inner; j += Group.DimX)
            sum += dy[(j / inner * channels + c) * inner + j % inner];
        sum = GroupReduce.Sum(sum);
        if (Group.IsFirstThread)
            dBias[c] = sum + (accumulate != 0 ? dBias[c] : 0.0f);
    }
}
