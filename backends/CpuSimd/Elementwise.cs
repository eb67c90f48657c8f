using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

// Element-wise work in the style of System.Numerics.Tensors: each op is a small struct with a scalar and three vector
// Invoke methods, and one driver per arity handles the widths (Vector512 where SimdTier says so, then Vector256, then
// Vector128), the tail and the scalar fallback (DOTNET_EnableAVX2=0, DOTNET_EnableHWIntrinsic=0). Drivers process
// element i of every stream together, so an output may be one of the inputs.

internal interface IUnaryOperator
{
    float Invoke(float x);

    Vector128<float> Invoke(Vector128<float> x);

    Vector256<float> Invoke(Vector256<float> x);

    Vector512<float> Invoke(Vector512<float> x);
}

internal interface ITernaryOperator
{
    float Invoke(float x, float y, float z);

    Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> z);

    Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> z);

    Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> z);
}

/// <summary>
/// An in-place update of a parameter p and up to three state streams from a gradient g (the optimizers). The streams
/// are float32 in memory and the arithmetic is float64 in registers: an update often cancels terms of order 1 down to a
/// small state, which float32 arithmetic (and float32 hyper-parameters) would blur. Implementations mark each Invoke
/// AggressiveInlining: the JIT declines to inline these bodies on its own, and a call per vector, its state passed by
/// reference through memory, made AdamW's update of 100K elements take 2x as long (0.42 against 0.23 ms, one thread).
/// </summary>
internal interface IUpdateOperator
{
    /// <summary>How many of the state streams the update reads and writes.</summary>
    static abstract int States { get; }

    void Invoke(ref double p, double g, ref double s0, ref double s1, ref double s2);

    void Invoke(ref Vector128<double> p, Vector128<double> g, ref Vector128<double> s0, ref Vector128<double> s1, ref Vector128<double> s2);

    void Invoke(ref Vector256<double> p, Vector256<double> g, ref Vector256<double> s0, ref Vector256<double> s1, ref Vector256<double> s2);

    void Invoke(ref Vector512<double> p, Vector512<double> g, ref Vector512<double> s0, ref Vector512<double> s1, ref Vector512<double> s2);
}

internal static unsafe class Elementwise
{
    /// <summary>y[i] = op(x[i]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Map<TOp>(TOp op, float* x, float* y, nint n)
        where TOp : struct, IUnaryOperator
    {
        nint i = 0;
        if (SimdTier.Vector512)
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                op.Invoke(Vector512.Load(x + i)).Store(y + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                op.Invoke(Vector256.Load(x + i)).Store(y + i);
        if (Vector128.IsHardwareAccelerated)
            for (; i <= n - Vector128<float>.Count; i += Vector128<float>.Count)
                op.Invoke(Vector128.Load(x + i)).Store(y + i);
        for (; i < n; i++)
            y[i] = op.Invoke(x[i]);
    }

    /// <summary>w[i] = op(x[i], y[i], z[i]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Map<TOp>(TOp op, float* x, float* y, float* z, float* w, nint n)
        where TOp : struct, ITernaryOperator
    {
        nint i = 0;
        if (SimdTier.Vector512)
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                op.Invoke(Vector512.Load(x + i), Vector512.Load(y + i), Vector512.Load(z + i)).Store(w + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                op.Invoke(Vector256.Load(x + i), Vector256.Load(y + i), Vector256.Load(z + i)).Store(w + i);
        if (Vector128.IsHardwareAccelerated)
            for (; i <= n - Vector128<float>.Count; i += Vector128<float>.Count)
                op.Invoke(Vector128.Load(x + i), Vector128.Load(y + i), Vector128.Load(z + i)).Store(w + i);
        for (; i < n; i++)
            w[i] = op.Invoke(x[i], y[i], z[i]);
    }

    /// <summary>
    /// The float64 sum of op(x[i]), op in float and the sum lane by lane (Vector512, then Vector256, else in order): the
    /// order of the additions is fixed by n and the tier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double Sum<TOp>(TOp op, float* x, nint n)
        where TOp : struct, IUnaryOperator
    {
        nint i = 0;
        double sum = 0;
        if (SimdTier.Vector512)
        {
            Vector512<double> a0 = default, a1 = default;
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var (lo, hi) = Vector512.Widen(op.Invoke(Vector512.Load(x + i)));
                a0 += lo;
                a1 += hi;
            }
            sum = SimdMath.Sum(a0 + a1);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<double> a0 = default, a1 = default;
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var (lo, hi) = Vector256.Widen(op.Invoke(Vector256.Load(x + i)));
                a0 += lo;
                a1 += hi;
            }
            sum += Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++)
            sum += op.Invoke(x[i]);
        return sum;
    }

    /// <summary>
    /// y[i] = op(x[i]); returns the float sum of the y[i], lane by lane at each width, then in order: the order of the
    /// additions is fixed by n and the tier. y may be x.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float MapSum<TOp>(TOp op, float* x, float* y, nint n)
        where TOp : struct, IUnaryOperator
    {
        nint i = 0;
        float sum = 0;
        if (SimdTier.Vector512)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var v = op.Invoke(Vector512.Load(x + i));
                v.Store(y + i);
                acc += v;
            }
            sum = SimdMath.Sum(acc);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = op.Invoke(Vector256.Load(x + i));
                v.Store(y + i);
                acc += v;
            }
            sum += SimdMath.Sum(acc);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            var acc = Vector128<float>.Zero;
            for (; i <= n - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                var v = op.Invoke(Vector128.Load(x + i));
                v.Store(y + i);
                acc += v;
            }
            sum += Vector128.Sum(acc);
        }
        for (; i < n; i++)
        {
            y[i] = op.Invoke(x[i]);
            sum += y[i];
        }
        return sum;
    }

    /// <summary>sums[i] += op(x[i]), op in float and the sums in float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddWidened<TOp>(TOp op, float* x, double* sums, nint n)
        where TOp : struct, IUnaryOperator
    {
        nint i = 0;
        if (SimdTier.Vector512)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var (lo, hi) = Vector512.Widen(op.Invoke(Vector512.Load(x + i)));
                (Vector512.Load(sums + i) + lo).Store(sums + i);
                (Vector512.Load(sums + i + Vector512<double>.Count) + hi).Store(sums + i + Vector512<double>.Count);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var (lo, hi) = Vector256.Widen(op.Invoke(Vector256.Load(x + i)));
                (Vector256.Load(sums + i) + lo).Store(sums + i);
                (Vector256.Load(sums + i + 4) + hi).Store(sums + i + 4);
            }
        }
        for (; i < n; i++)
            sums[i] += op.Invoke(x[i]);
    }

    /// <summary>Updates p and the first TOp.States of s0, s1, s2 in place from g, in one pass over memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Update<TOp>(TOp op, float* p, float* g, float* s0, float* s1, float* s2, nint n)
        where TOp : struct, IUpdateOperator
    {
        nint i = 0;
        if (SimdTier.Vector512)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var (p0, p1) = Vector512.Widen(Vector512.Load(p + i));
                var (g0, g1) = Vector512.Widen(Vector512.Load(g + i));
                var (a0, a1) = TOp.States > 0 ? Vector512.Widen(Vector512.Load(s0 + i)) : default;
                var (b0, b1) = TOp.States > 1 ? Vector512.Widen(Vector512.Load(s1 + i)) : default;
                var (c0, c1) = TOp.States > 2 ? Vector512.Widen(Vector512.Load(s2 + i)) : default;
                op.Invoke(ref p0, g0, ref a0, ref b0, ref c0);
                op.Invoke(ref p1, g1, ref a1, ref b1, ref c1);
                Vector512.Narrow(p0, p1).Store(p + i);
                if (TOp.States > 0) Vector512.Narrow(a0, a1).Store(s0 + i);
                if (TOp.States > 1) Vector512.Narrow(b0, b1).Store(s1 + i);
                if (TOp.States > 2) Vector512.Narrow(c0, c1).Store(s2 + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var (p0, p1) = Vector256.Widen(Vector256.Load(p + i));
                var (g0, g1) = Vector256.Widen(Vector256.Load(g + i));
                var (a0, a1) = TOp.States > 0 ? Vector256.Widen(Vector256.Load(s0 + i)) : default;
                var (b0, b1) = TOp.States > 1 ? Vector256.Widen(Vector256.Load(s1 + i)) : default;
                var (c0, c1) = TOp.States > 2 ? Vector256.Widen(Vector256.Load(s2 + i)) : default;
                op.Invoke(ref p0, g0, ref a0, ref b0, ref c0);
                op.Invoke(ref p1, g1, ref a1, ref b1, ref c1);
                Vector256.Narrow(p0, p1).Store(p + i);
                if (TOp.States > 0) Vector256.Narrow(a0, a1).Store(s0 + i);
                if (TOp.States > 1) Vector256.Narrow(b0, b1).Store(s1 + i);
                if (TOp.States > 2) Vector256.Narrow(c0, c1).Store(s2 + i);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                var (p0, p1) = Vector128.Widen(Vector128.Load(p + i));
                var (g0, g1) = Vector128.Widen(Vector128.Load(g + i));
                var (a0, a1) = TOp.States > 0 ? Vector128.Widen(Vector128.Load(s0 + i)) : default;
                var (b0, b1) = TOp.States > 1 ? Vector128.Widen(Vector128.Load(s1 + i)) : default;
                var (c0, c1) = TOp.States > 2 ? Vector128.Widen(Vector128.Load(s2 + i)) : default;
                op.Invoke(ref p0, g0, ref a0, ref b0, ref c0);
                op.Invoke(ref p1, g1, ref a1, ref b1, ref c1);
                Vector128.Narrow(p0, p1).Store(p + i);
                if (TOp.States > 0) Vector128.Narrow(a0, a1).Store(s0 + i);
                if (TOp.States > 1) Vector128.Narrow(b0, b1).Store(s1 + i);
                if (TOp.States > 2) Vector128.Narrow(c0, c1).Store(s2 + i);
            }
        }
        for (; i < n; i++)
        {
            double pi = p[i];
            double a = TOp.States > 0 ? s0[i] : 0, b = TOp.States > 1 ? s1[i] : 0, c = TOp.States > 2 ? s2[i] : 0;
            op.Invoke(ref pi, g[i], ref a, ref b, ref c);
            p[i] = (float)pi;
            if (TOp.States > 0) s0[i] = (float)a;
            if (TOp.States > 1) s1[i] = (float)b;
            if (TOp.States > 2) s2[i] = (float)c;
        }
    }
}

// ---------------------------------------------------------------- what the sums sum

internal readonly struct IdentityOperator : IUnaryOperator
{
    public float Invoke(float x) => x;

    public Vector128<float> Invoke(Vector128<float> x) => x;

    public Vector256<float> Invoke(Vector256<float> x) => x;

    public Vector512<float> Invoke(Vector512<float> x) => x;
}

internal readonly struct AbsOperator : IUnaryOperator
{
    public float Invoke(float x) => MathF.Abs(x);

    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Abs(x);

    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Abs(x);

    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Abs(x);
}

internal readonly struct SquareOperator : IUnaryOperator
{
    public float Invoke(float x) => x * x;

    public Vector128<float> Invoke(Vector128<float> x) => x * x;

    public Vector256<float> Invoke(Vector256<float> x) => x * x;

    public Vector512<float> Invoke(Vector512<float> x) => x * x;
}

/// <summary>x + y (x, y, unused).</summary>
internal readonly struct AddOperator : ITernaryOperator
{
    public float Invoke(float x, float y, float z) => x + y;

    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> z) => x + y;

    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> z) => x + y;

    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> z) => x + y;
}

// ---------------------------------------------------------------- activations and softmax

/// <summary>exp(x - shift): softmax's exponentials of a row less its maximum.</summary>
internal readonly struct ExpShiftedOperator(float shift) : IUnaryOperator
{
    public float Invoke(float x) => MathF.Exp(x - shift);

    public Vector128<float> Invoke(Vector128<float> x) => SimdMath.Exp(x - Vector128.Create(shift));

    public Vector256<float> Invoke(Vector256<float> x) => SimdMath.Exp(x - Vector256.Create(shift));

    public Vector512<float> Invoke(Vector512<float> x) => SimdMath.Exp(x - Vector512.Create(shift));
}

/// <summary>PyTorch's threshold: x &lt;= 0 ? 0 : x, so that a NaN passes through.</summary>
internal readonly struct ReluOperator : IUnaryOperator
{
    public float Invoke(float x) => x <= 0 ? 0 : x;

    public Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.LessThanOrEqual(x, Vector128<float>.Zero), Vector128<float>.Zero, x);

    public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, Vector256<float>.Zero), Vector256<float>.Zero, x);

    public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.LessThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.Zero, x);
}

/// <summary>dx = x &lt;= 0 ? 0 : dy (x, y, dy): the gradient passes where x is not &lt;= 0, NaN included.</summary>
internal readonly struct ReluBackwardOperator : ITernaryOperator
{
    public float Invoke(float x, float y, float dy) => x <= 0 ? 0 : dy;

    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) => Vector128.ConditionalSelect(Vector128.LessThanOrEqual(x, Vector128<float>.Zero), Vector128<float>.Zero, dy);

    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) => Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, Vector256<float>.Zero), Vector256<float>.Zero, dy);

    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) => Vector512.ConditionalSelect(Vector512.LessThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.Zero, dy);
}

/// <summary>
/// GELU, tanh approximation: 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3), computed as x * sigmoid(2u)
/// (the same function: 0.5 (1 + tanh(u)) = sigmoid(2u)) so that it costs one exp.
/// </summary>
internal readonly struct GeluOperator : IUnaryOperator
{
    public const float TwoSqrtTwoOverPi = 1.5957691216057308f; // 2 sqrt(2/pi)
    public const float Cubic = 0.044715f;

    public float Invoke(float x) => x * SimdMath.Sigmoid(TwoSqrtTwoOverPi * (x + Cubic * x * x * x));

    public Vector128<float> Invoke(Vector128<float> x) => x * SimdMath.Sigmoid(TwoU(x));

    public Vector256<float> Invoke(Vector256<float> x) => x * SimdMath.Sigmoid(TwoU(x));

    public Vector512<float> Invoke(Vector512<float> x) => x * SimdMath.Sigmoid(TwoU(x));

    public static Vector128<float> TwoU(Vector128<float> x) => x * SimdMath.MultiplyAdd(x * x, Vector128.Create(Cubic * TwoSqrtTwoOverPi), Vector128.Create(TwoSqrtTwoOverPi));

    public static Vector256<float> TwoU(Vector256<float> x) => x * SimdMath.MultiplyAdd(x * x, Vector256.Create(Cubic * TwoSqrtTwoOverPi), Vector256.Create(TwoSqrtTwoOverPi));

    public static Vector512<float> TwoU(Vector512<float> x) => x * SimdMath.MultiplyAdd(x * x, Vector512.Create(Cubic * TwoSqrtTwoOverPi), Vector512.Create(TwoSqrtTwoOverPi));
}

/// <summary>
/// The exact derivative of the tanh approximation (PyTorch's gelu_backward). With s = sigmoid(2u) = (1 + tanh u) / 2:
/// d/dx = s + 2 x s (1 - s) du/dx, du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
/// </summary>
internal readonly struct GeluBackwardOperator : ITernaryOperator
{
    private const float SqrtTwoOverPi = GeluOperator.TwoSqrtTwoOverPi / 2;
    private const float Cubic3 = 3 * GeluOperator.Cubic;

    public float Invoke(float x, float y, float dy)
    {
        float s = SimdMath.Sigmoid(GeluOperator.TwoSqrtTwoOverPi * (x + GeluOperator.Cubic * x * x * x));
        float du = SqrtTwoOverPi * (1 + Cubic3 * x * x);
        return (s + 2 * x * s * (1 - s) * du) * dy;
    }

    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy)
    {
        var s = SimdMath.Sigmoid(GeluOperator.TwoU(x));
        var du = SimdMath.MultiplyAdd(x * x, Vector128.Create(SqrtTwoOverPi * Cubic3), Vector128.Create(SqrtTwoOverPi));
        return SimdMath.MultiplyAdd(x * s * (Vector128<float>.One - s) * du, Vector128.Create(2f), s) * dy;
    }

    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy)
    {
        var s = SimdMath.Sigmoid(GeluOperator.TwoU(x));
        var du = SimdMath.MultiplyAdd(x * x, Vector256.Create(SqrtTwoOverPi * Cubic3), Vector256.Create(SqrtTwoOverPi));
        return SimdMath.MultiplyAdd(x * s * (Vector256<float>.One - s) * du, Vector256.Create(2f), s) * dy;
    }

    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy)
    {
        var s = SimdMath.Sigmoid(GeluOperator.TwoU(x));
        var du = SimdMath.MultiplyAdd(x * x, Vector512.Create(SqrtTwoOverPi * Cubic3), Vector512.Create(SqrtTwoOverPi));
        return SimdMath.MultiplyAdd(x * s * (Vector512<float>.One - s) * du, Vector512.Create(2f), s) * dy;
    }
}

internal readonly struct SigmoidOperator : IUnaryOperator
{
    public float Invoke(float x) => SimdMath.Sigmoid(x);

    public Vector128<float> Invoke(Vector128<float> x) => SimdMath.Sigmoid(x);

    public Vector256<float> Invoke(Vector256<float> x) => SimdMath.Sigmoid(x);

    public Vector512<float> Invoke(Vector512<float> x) => SimdMath.Sigmoid(x);
}

/// <summary>dx = y (1 - y) dy, from the forward's output.</summary>
internal readonly struct SigmoidBackwardOperator : ITernaryOperator
{
    public float Invoke(float x, float y, float dy) => y * (1 - y) * dy;

    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) => y * (Vector128<float>.One - y) * dy;

    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) => y * (Vector256<float>.One - y) * dy;

    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) => y * (Vector512<float>.One - y) * dy;
}

internal readonly struct TanhOperator : IUnaryOperator
{
    public float Invoke(float x) => SimdMath.Tanh(x);

    public Vector128<float> Invoke(Vector128<float> x) => SimdMath.Tanh(x);

    public Vector256<float> Invoke(Vector256<float> x) => SimdMath.Tanh(x);

    public Vector512<float> Invoke(Vector512<float> x) => SimdMath.Tanh(x);
}

/// <summary>dx = (1 - y^2) dy, from the forward's output.</summary>
internal readonly struct TanhBackwardOperator : ITernaryOperator
{
    public float Invoke(float x, float y, float dy) => (1 - y * y) * dy;

    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) => (Vector128<float>.One - y * y) * dy;

    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) => (Vector256<float>.One - y * y) * dy;

    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) => (Vector512<float>.One - y * y) * dy;
}

// ---------------------------------------------------------------- regularisation

/// <summary>
/// grad + lambda sign(param) (param, grad, unused): sign is param itself where it is 0 (so +-0) or NaN, which adds
/// nothing or NaN, as torch.sign does.
/// </summary>
internal readonly struct L1GradientOperator(float lambda) : ITernaryOperator
{
    public float Invoke(float p, float g, float z) => g + lambda * (p > 0 ? 1 : p < 0 ? -1 : p);

    public Vector128<float> Invoke(Vector128<float> p, Vector128<float> g, Vector128<float> z)
    {
        var sign = Vector128.ConditionalSelect(Vector128.GreaterThan(p, Vector128<float>.Zero), Vector128<float>.One,
            Vector128.ConditionalSelect(Vector128.LessThan(p, Vector128<float>.Zero), -Vector128<float>.One, p));
        return SimdMath.MultiplyAdd(sign, Vector128.Create(lambda), g);
    }

    public Vector256<float> Invoke(Vector256<float> p, Vector256<float> g, Vector256<float> z)
    {
        var sign = Vector256.ConditionalSelect(Vector256.GreaterThan(p, Vector256<float>.Zero), Vector256<float>.One,
            Vector256.ConditionalSelect(Vector256.LessThan(p, Vector256<float>.Zero), -Vector256<float>.One, p));
        return SimdMath.MultiplyAdd(sign, Vector256.Create(lambda), g);
    }

    public Vector512<float> Invoke(Vector512<float> p, Vector512<float> g, Vector512<float> z)
    {
        var sign = Vector512.ConditionalSelect(Vector512.GreaterThan(p, Vector512<float>.Zero), Vector512<float>.One,
            Vector512.ConditionalSelect(Vector512.LessThan(p, Vector512<float>.Zero), -Vector512<float>.One, p));
        return SimdMath.MultiplyAdd(sign, Vector512.Create(lambda), g);
    }
}
