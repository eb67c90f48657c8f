using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

/// <summary>The transcendental pieces of the fused kernels, at each vector width and in scalar.</summary>
internal static class SimdMath
{
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    public static Vector128<float> Sigmoid(Vector128<float> x) => Vector128<float>.One / (Vector128<float>.One + Vector128.Exp(-x));

    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    public static float Tanh(float x) => MathF.Tanh(x);

    // tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) <= 1: no overflow, NaN stays NaN.
    public static Vector128<float> Tanh(Vector128<float> x)
    {
        var e = Vector128.Exp(Vector128.Abs(x) * -2f);
        return Vector128.CopySign((Vector128<float>.One - e) / (Vector128<float>.One + e), x);
    }

    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var e = Vector256.Exp(Vector256.Abs(x) * -2f);
        return Vector256.CopySign((Vector256<float>.One - e) / (Vector256<float>.One + e), x);
    }

    /// <summary>a * b + c, fused where the hardware has FMA.</summary>
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;

    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;

    /// <summary>Horizontal sum of a vector's lanes.</summary>
    public static float Sum(Vector256<float> v) => Vector128.Sum(v.GetLower() + v.GetUpper());
}
