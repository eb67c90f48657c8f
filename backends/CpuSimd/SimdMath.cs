using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

/// <summary>
/// The transcendental pieces of the fused kernels, at each vector width and in scalar. The vector ones are always
/// inlined: a body with several of them (the LSTM cell's three sigmoids and two tanhs a vector) had run out of the JIT's
/// inlining budget, and each call then passed its vectors through the stack.
/// </summary>
internal static class SimdMath
{
    // exp(x) for float vectors (Cephes' expf: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial, 2^n through
    // the exponent bits; about 2e-7 relative error), several times faster than the runtime's Vector256.Exp. Arguments are
    // clamped to [-87.3, 88]: below, the result is 0 (or a denormal) anyway, and every caller (sigmoid, tanh, softmax) is
    // insensitive to exp beyond 1.6e38. NaN stays NaN.
    private const float ExpLow = -87.3f, ExpHigh = 88f, Log2E = 1.44269504088896341f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var t = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(ExpLow)), Vector256.Create(ExpHigh));
        var n = Vector256.Round(t * Log2E);
        var r = MultiplyAdd(n, Vector256.Create(-Ln2Lo), MultiplyAdd(n, Vector256.Create(-Ln2Hi), t));
        var p = MultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = MultiplyAdd(p, r, Vector256.Create(P2));
        p = MultiplyAdd(p, r, Vector256.Create(P3));
        p = MultiplyAdd(p, r, Vector256.Create(P4));
        p = MultiplyAdd(p, r, Vector256.Create(P5));
        p = MultiplyAdd(p, r * r, r + Vector256<float>.One);
        var scale = ((Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), p * scale, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x)
    {
        var t = Vector128.MinNative(Vector128.MaxNative(x, Vector128.Create(ExpLow)), Vector128.Create(ExpHigh));
        var n = Vector128.Round(t * Log2E);
        var r = MultiplyAdd(n, Vector128.Create(-Ln2Lo), MultiplyAdd(n, Vector128.Create(-Ln2Hi), t));
        var p = MultiplyAdd(Vector128.Create(P0), r, Vector128.Create(P1));
        p = MultiplyAdd(p, r, Vector128.Create(P2));
        p = MultiplyAdd(p, r, Vector128.Create(P3));
        p = MultiplyAdd(p, r, Vector128.Create(P4));
        p = MultiplyAdd(p, r, Vector128.Create(P5));
        p = MultiplyAdd(p, r * r, r + Vector128<float>.One);
        var scale = ((Vector128.ConvertToInt32(n) + Vector128.Create(127)) << 23).AsSingle();
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), p * scale, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var t = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(ExpLow)), Vector512.Create(ExpHigh));
        var n = Vector512.Round(t * Log2E);
        var r = MultiplyAdd(n, Vector512.Create(-Ln2Lo), MultiplyAdd(n, Vector512.Create(-Ln2Hi), t));
        var p = MultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = MultiplyAdd(p, r, Vector512.Create(P2));
        p = MultiplyAdd(p, r, Vector512.Create(P3));
        p = MultiplyAdd(p, r, Vector512.Create(P4));
        p = MultiplyAdd(p, r, Vector512.Create(P5));
        p = MultiplyAdd(p, r * r, r + Vector512<float>.One);
        var scale = ((Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23).AsSingle();
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), p * scale, x);
    }

    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sigmoid(Vector128<float> x) => Vector128<float>.One / (Vector128<float>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Exp(-x));

    public static float Tanh(float x) => MathF.Tanh(x);

    // tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) <= 1: no overflow, NaN stays NaN. Below |x| = 0.625 that
    // difference loses relative precision, so there it is Cephes' odd polynomial x + x^3 P(x^2) instead.
    private const float TanhSmall = 0.625f, T0 = -5.70498872745e-3f, T1 = 2.06390887954e-2f, T2 = -5.37397155531e-2f, T3 = 1.33314422036e-1f, T4 = -3.33332819422e-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x)
    {
        var e = Exp(Vector128.Abs(x) * -2f);
        var large = Vector128.CopySign((Vector128<float>.One - e) / (Vector128<float>.One + e), x);
        var z = x * x;
        var p = MultiplyAdd(Vector128.Create(T0), z, Vector128.Create(T1));
        p = MultiplyAdd(p, z, Vector128.Create(T2));
        p = MultiplyAdd(p, z, Vector128.Create(T3));
        p = MultiplyAdd(p, z, Vector128.Create(T4));
        var small = MultiplyAdd(p * z, x, x);
        return Vector128.ConditionalSelect(Vector128.LessThan(Vector128.Abs(x), Vector128.Create(TanhSmall)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var e = Exp(Vector256.Abs(x) * -2f);
        var large = Vector256.CopySign((Vector256<float>.One - e) / (Vector256<float>.One + e), x);
        var z = x * x;
        var p = MultiplyAdd(Vector256.Create(T0), z, Vector256.Create(T1));
        p = MultiplyAdd(p, z, Vector256.Create(T2));
        p = MultiplyAdd(p, z, Vector256.Create(T3));
        p = MultiplyAdd(p, z, Vector256.Create(T4));
        var small = MultiplyAdd(p * z, x, x);
        return Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(x), Vector256.Create(TanhSmall)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var e = Exp(Vector512.Abs(x) * -2f);
        var large = Vector512.CopySign((Vector512<float>.One - e) / (Vector512<float>.One + e), x);
        var z = x * x;
        var p = MultiplyAdd(Vector512.Create(T0), z, Vector512.Create(T1));
        p = MultiplyAdd(p, z, Vector512.Create(T2));
        p = MultiplyAdd(p, z, Vector512.Create(T3));
        p = MultiplyAdd(p, z, Vector512.Create(T4));
        var small = MultiplyAdd(p * z, x, x);
        return Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Abs(x), Vector512.Create(TanhSmall)), small, large);
    }

    /// <summary>a * b + c, fused where the hardware has FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;

    /// <summary>Fused always: every CPU with AVX-512 has FMA; emulated, each Vector256 half is fused (in software where the CPU has no FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    /// <summary>Horizontal sum of a vector's lanes, halves first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> v) => Vector128.Sum(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> v) => Sum(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Sum(Vector512<double> v) => Vector256.Sum(v.GetLower() + v.GetUpper());
}
