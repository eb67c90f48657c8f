using System.Numerics;
using System.Runtime.CompilerServices;

namespace KernelLab.Backends.CpuSimd;

/// <summary>
/// Products small enough that their operands stay in L1 (an attention head's T x T and T x head-size matrices), without
/// the packing that <see cref="Sgemm"/> does to keep large ones in cache: B's rows are read where they lie and A's
/// elements are broadcast from any strides, so A may be a transpose. At these sizes packing costs as much as the
/// arithmetic. Written once with <see cref="Vector{T}"/>, which the runtime makes 256 bits wide with AVX2, 128 with
/// SSE, and software without vector instructions (DOTNET_EnableHWIntrinsic=0).
/// </summary>
internal static unsafe class SmallGemm
{
    private const int Rows = 4; // a block: 4 rows x 2 vectors of C, 8 accumulators

    /// <summary>Columns of C in a block (2 vectors): a product whose n is a multiple of it runs no scalar column tail.</summary>
    public static int Columns => 2 * Vector<float>.Count;

    /// <summary>
    /// C = alpha A B (+ C when <paramref name="accumulate"/>), A [m, k], B [k, n], C [m, n]: element (i, p) of A is
    /// a[i * ai + p * ap], row p of B starts at b + p * ldb, row i of C at c + i * ldc.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int m, int n, int k, float* a, long ai, long ap, float* b, long ldb, float* c, long ldc, float alpha, bool accumulate)
    {
        int i = 0;
        for (; i + Rows <= m; i += Rows)
            FourRows(n, k, a + i * ai, ai, ap, b, ldb, c + i * ldc, ldc, alpha, accumulate);
        for (; i < m; i++)
            OneRow(n, k, a + i * ai, ap, b, ldb, c + i * ldc, alpha, accumulate);
    }

    private static void FourRows(int n, int k, float* a, long ai, long ap, float* b, long ldb, float* c, long ldc, float alpha, bool accumulate)
    {
        int w = Vector<float>.Count, j = 0;
        float* a1 = a + ai, a2 = a1 + ai, a3 = a2 + ai;
        for (; j + 2 * w <= n; j += 2 * w)
        {
            Vector<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            float* bp = b + j;
            for (long p = 0; p < k; p++, bp += ldb)
            {
                var b0 = Vector.Load(bp);
                var b1 = Vector.Load(bp + w);
                long o = p * ap;
                var x = new Vector<float>(a[o]);
                c00 = Vector.MultiplyAddEstimate(x, b0, c00);
                c01 = Vector.MultiplyAddEstimate(x, b1, c01);
                x = new Vector<float>(a1[o]);
                c10 = Vector.MultiplyAddEstimate(x, b0, c10);
                c11 = Vector.MultiplyAddEstimate(x, b1, c11);
                x = new Vector<float>(a2[o]);
                c20 = Vector.MultiplyAddEstimate(x, b0, c20);
                c21 = Vector.MultiplyAddEstimate(x, b1, c21);
                x = new Vector<float>(a3[o]);
                c30 = Vector.MultiplyAddEstimate(x, b0, c30);
                c31 = Vector.MultiplyAddEstimate(x, b1, c31);
            }
            Store(c + j, c00, alpha, accumulate);
            Store(c + j + w, c01, alpha, accumulate);
            Store(c + ldc + j, c10, alpha, accumulate);
            Store(c + ldc + j + w, c11, alpha, accumulate);
            Store(c + 2 * ldc + j, c20, alpha, accumulate);
            Store(c + 2 * ldc + j + w, c21, alpha, accumulate);
            Store(c + 3 * ldc + j, c30, alpha, accumulate);
            Store(c + 3 * ldc + j + w, c31, alpha, accumulate);
        }
        for (; j + w <= n; j += w)
        {
            Vector<float> c0 = default, c1 = default, c2 = default, c3 = default;
            float* bp = b + j;
            for (long p = 0; p < k; p++, bp += ldb)
            {
                var b0 = Vector.Load(bp);
                long o = p * ap;
                c0 = Vector.MultiplyAddEstimate(new Vector<float>(a[o]), b0, c0);
                c1 = Vector.MultiplyAddEstimate(new Vector<float>(a1[o]), b0, c1);
                c2 = Vector.MultiplyAddEstimate(new Vector<float>(a2[o]), b0, c2);
                c3 = Vector.MultiplyAddEstimate(new Vector<float>(a3[o]), b0, c3);
            }
            Store(c + j, c0, alpha, accumulate);
            Store(c + ldc + j, c1, alpha, accumulate);
            Store(c + 2 * ldc + j, c2, alpha, accumulate);
            Store(c + 3 * ldc + j, c3, alpha, accumulate);
        }
        for (; j < n; j++)
            for (int r = 0; r < Rows; r++)
                c[r * ldc + j] = Dot(k, a + r * ai, ap, b + j, ldb, alpha, accumulate ? c[r * ldc + j] : 0);
    }

    private static void OneRow(int n, int k, float* a, long ap, float* b, long ldb, float* c, float alpha, bool accumulate)
    {
        int w = Vector<float>.Count, j = 0;
        for (; j + w <= n; j += w)
        {
            Vector<float> acc = default;
            float* bp = b + j;
            for (long p = 0; p < k; p++, bp += ldb)
                acc = Vector.MultiplyAddEstimate(new Vector<float>(a[p * ap]), Vector.Load(bp), acc);
            Store(c + j, acc, alpha, accumulate);
        }
        for (; j < n; j++)
            c[j] = Dot(k, a, ap, b + j, ldb, alpha, accumulate ? c[j] : 0);
    }

    /// <summary>alpha (row of A) . (column of B) + add, for the columns past the last whole vector.</summary>
    private static float Dot(int k, float* a, long ap, float* b, long ldb, float alpha, float add)
    {
        float sum = 0;
        for (long p = 0; p < k; p++)
            sum += a[p * ap] * b[p * ldb];
        return alpha * sum + add;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector<float> v, float alpha, bool accumulate)
    {
        v *= alpha;
        if (accumulate)
            v += Vector.Load(c);
        v.Store(c);
    }
}
