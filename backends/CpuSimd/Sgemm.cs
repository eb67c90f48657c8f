using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

/// <summary>
/// Single-precision GEMM, packed and cache-blocked in the manner of BLIS/GotoBLAS: C[m, n] = alpha op(A) op(B)
/// (+ C when accumulating), one thread. The k dimension is cut in KC blocks and n in NC panels; each KC x NC panel of
/// op(B) is packed into NR-column slivers (L2/L3), each MC x KC block of op(A) into MR-row slivers (L2), and a
/// register-tiled MR x NR micro-kernel runs over sliver pairs that stay in L1: 12 x 32 with Vector512 (twenty-four zmm
/// accumulators), else 6 x 16 (twelve ymm accumulators with AVX2+FMA; the Vector128 and scalar kernels share its
/// packing). Transposes are absorbed by packing; tiles at the edges are zero-padded in the packed panels and computed
/// into a small buffer. Strides let a caller pass sub-matrices (attention heads, convolution images).
/// </summary>
internal static unsafe class Sgemm
{
    // The Vector512 tile, 12 x 32: 24 zmm accumulators, the k step's two B vectors and one broadcast of A take 27 of the
    // 32 registers, leaving room for the JIT's own (14 x 32 would leave one, and any spill costs more than it gains).
    // Each k step is 24 FMAs for 2 loads and 12 broadcasts, so the FMA ports, not the loads, bound it; 12 rows pack as
    // 8 + 4 (PackA) and pad less than 14 at the m of the standard workloads (128 and 256 rows pad to 132 and 264).
    private const int WideMR = 12, WideNR = 32;
    private const int NarrowMR = 6, NarrowNR = 16;

    // Fields, not properties: the JIT reads an initialised class's static readonly fields as constants, where a property
    // is an inlining that Multiply's budget runs out of (it then called KC and NC, and stopped inlining its scratch).
    public static readonly int MR = SimdTier.Vector512 ? WideMR : NarrowMR;

    public static readonly int NR = SimdTier.Vector512 ? WideNR : NarrowNR;

    // Blocking: a kc x NR sliver of B is read from L1 by every MR-row sliver of A (MC / MR times in a row) while the A
    // slivers stream through beside it, so KC is what keeps the B sliver, the A sliver in use and the one before it in L1.
    // Narrow: 256 x 16 floats, 16 KB. Wide: NR = 32 doubles the sliver per k, so KC = 128 keeps it at 16 KB, with 6 KB A
    // slivers: 28 KB, within the 32 KB L1 of Zen 4 and Skylake-SP as well as Sapphire Rapids' 48 KB (KC = 192 would fit
    // only the last). The A block, MC x KC (144 rows, 12 slivers of 12 or 24 of 6), is 144 KB or 72 KB of a 1-2 MB L2;
    // the B panel, KC x NC, about 4 MB or 2 MB of L3 (NC = 4096 for the wide tile: a multiple of 32).
    private static readonly int KC = SimdTier.Vector512 ? 128 : 256;

    private const int MC = 144;

    private static readonly int NC = SimdTier.Vector512 ? 4096 : 4080;

    /// <summary>
    /// C = alpha op(A) op(B) (+ C). Element (i, p) of op(A) is a[i * lda + p], or a[p * lda + i] when
    /// <paramref name="transposeA"/>; element (p, j) of op(B) is b[p * ldb + j], or b[j * ldb + p] when
    /// <paramref name="transposeB"/>; element (i, j) of C is c[i * ldc + j].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: no tier-0 code in short runs
    public static void Multiply(bool transposeA, bool transposeB, int m, int n, int k, float* a, int lda, float* b, int ldb,
        float* c, int ldc, float alpha, bool accumulate, WorkerScratch scratch)
    {
        if (m == 0 || n == 0)
            return;
        if (k == 0)
        {
            // An empty product: C becomes 0, or keeps its value when accumulating.
            if (!accumulate)
                for (int i = 0; i < m; i++)
                    new Span<float>(c + (long)i * ldc, n).Clear();
            return;
        }
        float* packA = scratch.PackA.Get(MC * KC + 8); // + 8: PackA's overlapping stores
        float* packB = scratch.PackB.Get(KC * NC);
        float* edge = stackalloc float[MR * NR];
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                bool add = accumulate || pc > 0;
                PackB(transposeB, b, ldb, pc, jc, kc, nc, packB);
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    PackA(transposeA, a, lda, ic, pc, mc, kc, packA);
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mr = Math.Min(MR, mc - ir);
                            float* ct = c + (long)(ic + ir) * ldc + jc + jr;
                            if (mr == MR && nr == NR)
                            {
                                Kernel(kc, packA + ir * kc, packB + jr * kc, ct, ldc, alpha, add);
                            }
                            else
                            {
                                Kernel(kc, packA + ir * kc, packB + jr * kc, edge, NR, 1, false);
                                StoreEdge(edge, ct, ldc, mr, nr, alpha, add);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The valid mr x nr corner of an edge tile computed into <paramref name="edge"/> [MR, NR]: c = alpha edge (+ c).</summary>
    private static void StoreEdge(float* edge, float* c, int ldc, int mr, int nr, float alpha, bool accumulate)
    {
        for (int i = 0; i < mr; i++, edge += NR, c += ldc)
        {
            int j = 0;
            if (SimdTier.Vector512)
            {
                var va = Vector512.Create(alpha);
                for (; j <= nr - 16; j += 16)
                {
                    var v = Vector512.Load(edge + j) * va;
                    (accumulate ? v + Vector512.Load(c + j) : v).Store(c + j);
                }
            }
            if (Vector256.IsHardwareAccelerated)
            {
                var va = Vector256.Create(alpha);
                for (; j <= nr - 8; j += 8)
                {
                    var v = Vector256.Load(edge + j) * va;
                    (accumulate ? v + Vector256.Load(c + j) : v).Store(c + j);
                }
            }
            for (; j < nr; j++)
                c[j] = alpha * edge[j] + (accumulate ? c[j] : 0);
        }
    }

    /// <summary>Rows [ic, ic + mc) and columns [pc, pc + kc) of op(A), as MR-row slivers: sliver s holds (s*MR + i, p) at [s*MR*kc + p*MR + i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(bool transposeA, float* a, int lda, int ic, int pc, int mc, int kc, float* dest)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            float* d = dest + ir * kc;
            if (!transposeA)
            {
                float* r = a + (long)(ic + ir) * lda + pc;
                if (mr == MR)
                {
                    int p = 0;
                    if (Avx.IsSupported)
                    {
                        // Eight columns at a time, the sliver's rows transposed in registers eight at a time (6, or 8 + 4).
                        for (; p <= kc - 8; p += 8, d += 8 * MR)
                        {
                            TransposeColumns(r, lda, p, Math.Min(MR, 8), d);
                            if (MR > 8)
                                TransposeColumns(r + 8L * lda, lda, p, MR - 8, d + 8);
                        }
                    }
                    for (; p < kc; p++, d += MR)
                        for (int i = 0; i < MR; i++)
                            d[i] = r[(long)i * lda + p];
                }
                else
                {
                    for (int p = 0; p < kc; p++, d += MR)
                        for (int i = 0; i < MR; i++)
                            d[i] = i < mr ? r[(long)i * lda + p] : 0;
                }
            }
            else if (mr == MR && Vector128.IsHardwareAccelerated)
            {
                // Each k holds the sliver's rows side by side, copied without reading past them: 6 = 4 + 2, 12 = 8 + 4.
                float* s = a + (long)pc * lda + ic + ir;
                for (int p = 0; p < kc; p++, d += MR, s += lda)
                {
                    if (MR == WideMR)
                    {
                        Vector256.Load(s).Store(d);
                        Vector128.Load(s + 8).Store(d + 8);
                    }
                    else
                    {
                        Vector128.Load(s).Store(d);
                        d[4] = s[4];
                        d[5] = s[5];
                    }
                }
            }
            else
            {
                for (int p = 0; p < kc; p++, d += MR)
                {
                    float* s = a + (long)(pc + p) * lda + ic + ir;
                    for (int i = 0; i < MR; i++)
                        d[i] = i < mr ? s[i] : 0;
                }
            }
        }
    }

    /// <summary>
    /// Columns [p, p + 8) of <paramref name="rows"/> (1 to 8) rows r, r + lda, ..., transposed: column p + q's rows go to
    /// d + q*MR. The rows past <paramref name="rows"/> are zeros; with more than four rows each store is eight floats, and
    /// the ones past the sliver's rows (two, for six) land in the next column's place, which the next store (or the next
    /// sliver, or the scratch's slack) takes; with four or fewer, four floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransposeColumns(float* r, long lda, int p, int rows, float* d)
    {
        // Row pointers first, then the column: the row pointers are the same for every p, so the JIT hoists them.
        float* r1 = r + lda, r2 = r1 + lda, r3 = r2 + lda, r4 = r3 + lda, r5 = r4 + lda, r6 = r5 + lda, r7 = r6 + lda;
        Vector256<float> v0 = Vector256.Load(r + p), v1 = rows > 1 ? Vector256.Load(r1 + p) : default, v2 = rows > 2 ? Vector256.Load(r2 + p) : default;
        Vector256<float> v3 = rows > 3 ? Vector256.Load(r3 + p) : default, v4 = rows > 4 ? Vector256.Load(r4 + p) : default;
        Vector256<float> v5 = rows > 5 ? Vector256.Load(r5 + p) : default, v6 = rows > 6 ? Vector256.Load(r6 + p) : default;
        Vector256<float> v7 = rows > 7 ? Vector256.Load(r7 + p) : default;
        Transpose8x8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
        if (rows > 4)
        {
            v0.Store(d);
            v1.Store(d + MR);
            v2.Store(d + 2 * MR);
            v3.Store(d + 3 * MR);
            v4.Store(d + 4 * MR);
            v5.Store(d + 5 * MR);
            v6.Store(d + 6 * MR);
            v7.Store(d + 7 * MR);
        }
        else
        {
            v0.GetLower().Store(d);
            v1.GetLower().Store(d + MR);
            v2.GetLower().Store(d + 2 * MR);
            v3.GetLower().Store(d + 3 * MR);
            v4.GetLower().Store(d + 4 * MR);
            v5.GetLower().Store(d + 5 * MR);
            v6.GetLower().Store(d + 6 * MR);
            v7.GetLower().Store(d + 7 * MR);
        }
    }

    /// <summary>Rows [pc, pc + kc) and columns [jc, jc + nc) of op(B), as NR-column slivers: sliver s holds (p, s*NR + j) at [s*NR*kc + p*NR + j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(bool transposeB, float* b, int ldb, int pc, int jc, int kc, int nc, float* dest)
    {
        for (int jr = 0; jr < nc; jr += NR)
        {
            int nr = Math.Min(NR, nc - jr);
            float* d = dest + jr * kc;
            if (!transposeB)
            {
                float* s = b + (long)pc * ldb + jc + jr;
                if (nr == NR && SimdTier.Vector512)
                {
                    for (int p = 0; p < kc; p++, s += ldb, d += NR)
                    {
                        Vector512.Load(s).Store(d);
                        Vector512.Load(s + 16).Store(d + 16);
                    }
                }
                else if (nr == NR && Vector256.IsHardwareAccelerated)
                {
                    for (int p = 0; p < kc; p++, s += ldb, d += NR)
                    {
                        Vector256.Load(s).Store(d);
                        Vector256.Load(s + 8).Store(d + 8);
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, s += ldb, d += NR)
                        for (int j = 0; j < NR; j++)
                            d[j] = j < nr ? s[j] : 0;
                }
            }
            else if (nr == NR && Avx.IsSupported)
            {
                // Eight rows of stored B (columns of op(B)) by eight k at a time, transposed in registers (NR / 8 of them per k block).
                float* s = b + (long)(jc + jr) * ldb + pc;
                int p = 0;
                for (; p <= kc - 8; p += 8)
                {
                    for (int j0 = 0; j0 < NR; j0 += 8)
                    {
                        float* r = s + (long)j0 * ldb + p;
                        Vector256<float> v0 = Vector256.Load(r), v1 = Vector256.Load(r + ldb), v2 = Vector256.Load(r + 2L * ldb), v3 = Vector256.Load(r + 3L * ldb);
                        Vector256<float> v4 = Vector256.Load(r + 4L * ldb), v5 = Vector256.Load(r + 5L * ldb), v6 = Vector256.Load(r + 6L * ldb), v7 = Vector256.Load(r + 7L * ldb);
                        Transpose8x8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                        float* o = d + p * NR + j0;
                        v0.Store(o);
                        v1.Store(o + NR);
                        v2.Store(o + 2 * NR);
                        v3.Store(o + 3 * NR);
                        v4.Store(o + 4 * NR);
                        v5.Store(o + 5 * NR);
                        v6.Store(o + 6 * NR);
                        v7.Store(o + 7 * NR);
                    }
                }
                for (; p < kc; p++)
                    for (int j = 0; j < NR; j++)
                        d[p * NR + j] = s[(long)j * ldb + p];
            }
            else
            {
                for (int j = 0; j < NR; j++)
                {
                    float* s = b + (long)(jc + jr + j) * ldb + pc;
                    if (j < nr)
                        for (int p = 0; p < kc; p++)
                            d[p * NR + j] = s[p];
                    else
                        for (int p = 0; p < kc; p++)
                            d[p * NR + j] = 0;
                }
            }
        }
    }

    /// <summary>Transposes the 8 x 8 matrix whose rows are v0 .. v7 (AVX unpack, shuffle and lane permute).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(ref Vector256<float> v0, ref Vector256<float> v1, ref Vector256<float> v2, ref Vector256<float> v3,
        ref Vector256<float> v4, ref Vector256<float> v5, ref Vector256<float> v6, ref Vector256<float> v7)
    {
        var t0 = Avx.UnpackLow(v0, v1);
        var t1 = Avx.UnpackHigh(v0, v1);
        var t2 = Avx.UnpackLow(v2, v3);
        var t3 = Avx.UnpackHigh(v2, v3);
        var t4 = Avx.UnpackLow(v4, v5);
        var t5 = Avx.UnpackHigh(v4, v5);
        var t6 = Avx.UnpackLow(v6, v7);
        var t7 = Avx.UnpackHigh(v6, v7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        v0 = Avx.Permute2x128(s0, s4, 0x20);
        v1 = Avx.Permute2x128(s1, s5, 0x20);
        v2 = Avx.Permute2x128(s2, s6, 0x20);
        v3 = Avx.Permute2x128(s3, s7, 0x20);
        v4 = Avx.Permute2x128(s0, s4, 0x31);
        v5 = Avx.Permute2x128(s1, s5, 0x31);
        v6 = Avx.Permute2x128(s2, s6, 0x31);
        v7 = Avx.Permute2x128(s3, s7, 0x31);
    }

    /// <summary>One MR x NR tile: c = alpha a b (+ c), a and b packed slivers of depth kc.</summary>
    private static void Kernel(int kc, float* a, float* b, float* c, int ldc, float alpha, bool accumulate)
    {
        if (SimdTier.Vector512)
        {
            Kernel12x32(kc, a, b, c, ldc, alpha, accumulate);
        }
        else if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
        {
            Kernel6x16Fma(kc, a, b, c, ldc, alpha, accumulate);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            // Two 6 x 8 halves: twelve xmm accumulators each, within SSE's sixteen registers.
            Kernel6x8Vector128(kc, a, b, c, ldc, alpha, accumulate);
            Kernel6x8Vector128(kc, a, b + 8, c + 8, ldc, alpha, accumulate);
        }
        else
        {
            KernelScalar(kc, a, b, c, ldc, alpha, accumulate);
        }
    }

    /// <summary>
    /// The Vector512 tile: rows 0-5 accumulate in c.., rows 6-11 in d.., two zmm each. A k step is two half steps over
    /// the same two B vectors, each inlined with fifteen arguments like the 6 x 16 kernel's step. The loop is not
    /// unrolled: a step's 24 FMAs leave its three loop instructions no weight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel12x32(int kc, float* a, float* b, float* c, int ldc, float alpha, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> d00 = default, d01 = default, d10 = default, d11 = default, d20 = default, d21 = default;
        Vector512<float> d30 = default, d31 = default, d40 = default, d41 = default, d50 = default, d51 = default;
        for (int p = 0; p < kc; p++, a += WideMR, b += WideNR)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            HalfStep(a, b0, b1, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            HalfStep(a + 6, b0, b1, ref d00, ref d01, ref d10, ref d11, ref d20, ref d21, ref d30, ref d31, ref d40, ref d41, ref d50, ref d51);
        }
        var va = Vector512.Create(alpha);
        StoreRow(c, c00, c01, va, accumulate);
        StoreRow(c + ldc, c10, c11, va, accumulate);
        StoreRow(c + 2L * ldc, c20, c21, va, accumulate);
        StoreRow(c + 3L * ldc, c30, c31, va, accumulate);
        StoreRow(c + 4L * ldc, c40, c41, va, accumulate);
        StoreRow(c + 5L * ldc, c50, c51, va, accumulate);
        StoreRow(c + 6L * ldc, d00, d01, va, accumulate);
        StoreRow(c + 7L * ldc, d10, d11, va, accumulate);
        StoreRow(c + 8L * ldc, d20, d21, va, accumulate);
        StoreRow(c + 9L * ldc, d30, d31, va, accumulate);
        StoreRow(c + 10L * ldc, d40, d41, va, accumulate);
        StoreRow(c + 11L * ldc, d50, d51, va, accumulate);
    }

    /// <summary>Six rows of a rank-1 update of the 12 x 32 accumulators: a[0..5] times the B row (b0, b1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HalfStep(float* a, Vector512<float> b0, Vector512<float> b1, ref Vector512<float> c00, ref Vector512<float> c01,
        ref Vector512<float> c10, ref Vector512<float> c11, ref Vector512<float> c20, ref Vector512<float> c21, ref Vector512<float> c30,
        ref Vector512<float> c31, ref Vector512<float> c40, ref Vector512<float> c41, ref Vector512<float> c50, ref Vector512<float> c51)
    {
        var ai = Vector512.Create(a[0]);
        c00 = Vector512.FusedMultiplyAdd(ai, b0, c00);
        c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
        ai = Vector512.Create(a[1]);
        c10 = Vector512.FusedMultiplyAdd(ai, b0, c10);
        c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
        ai = Vector512.Create(a[2]);
        c20 = Vector512.FusedMultiplyAdd(ai, b0, c20);
        c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
        ai = Vector512.Create(a[3]);
        c30 = Vector512.FusedMultiplyAdd(ai, b0, c30);
        c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
        ai = Vector512.Create(a[4]);
        c40 = Vector512.FusedMultiplyAdd(ai, b0, c40);
        c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
        ai = Vector512.Create(a[5]);
        c50 = Vector512.FusedMultiplyAdd(ai, b0, c50);
        c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector512<float> lo, Vector512<float> hi, Vector512<float> alpha, bool accumulate)
    {
        if (accumulate)
        {
            Vector512.FusedMultiplyAdd(lo, alpha, Vector512.Load(c)).Store(c);
            Vector512.FusedMultiplyAdd(hi, alpha, Vector512.Load(c + 16)).Store(c + 16);
        }
        else
        {
            (lo * alpha).Store(c);
            (hi * alpha).Store(c + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16Fma(int kc, float* a, float* b, float* c, int ldc, float alpha, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int p = 0;
        for (; p <= kc - 4; p += 4, a += 4 * NarrowMR, b += 4 * NarrowNR)
        {
            Step(a, b, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step(a + NarrowMR, b + NarrowNR, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step(a + 2 * NarrowMR, b + 2 * NarrowNR, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step(a + 3 * NarrowMR, b + 3 * NarrowNR, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
        }
        for (; p < kc; p++, a += NarrowMR, b += NarrowNR)
            Step(a, b, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
        var va = Vector256.Create(alpha);
        StoreRow(c, c00, c01, va, accumulate);
        StoreRow(c + ldc, c10, c11, va, accumulate);
        StoreRow(c + 2L * ldc, c20, c21, va, accumulate);
        StoreRow(c + 3L * ldc, c30, c31, va, accumulate);
        StoreRow(c + 4L * ldc, c40, c41, va, accumulate);
        StoreRow(c + 5L * ldc, c50, c51, va, accumulate);
    }

    /// <summary>One rank-1 update of the 6 x 16 accumulators: a column of the A sliver times a row of the B sliver.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(float* a, float* b, ref Vector256<float> c00, ref Vector256<float> c01, ref Vector256<float> c10, ref Vector256<float> c11,
        ref Vector256<float> c20, ref Vector256<float> c21, ref Vector256<float> c30, ref Vector256<float> c31,
        ref Vector256<float> c40, ref Vector256<float> c41, ref Vector256<float> c50, ref Vector256<float> c51)
    {
        var b0 = Vector256.Load(b);
        var b1 = Vector256.Load(b + 8);
        var ai = Vector256.Create(a[0]);
        c00 = Fma.MultiplyAdd(ai, b0, c00);
        c01 = Fma.MultiplyAdd(ai, b1, c01);
        ai = Vector256.Create(a[1]);
        c10 = Fma.MultiplyAdd(ai, b0, c10);
        c11 = Fma.MultiplyAdd(ai, b1, c11);
        ai = Vector256.Create(a[2]);
        c20 = Fma.MultiplyAdd(ai, b0, c20);
        c21 = Fma.MultiplyAdd(ai, b1, c21);
        ai = Vector256.Create(a[3]);
        c30 = Fma.MultiplyAdd(ai, b0, c30);
        c31 = Fma.MultiplyAdd(ai, b1, c31);
        ai = Vector256.Create(a[4]);
        c40 = Fma.MultiplyAdd(ai, b0, c40);
        c41 = Fma.MultiplyAdd(ai, b1, c41);
        ai = Vector256.Create(a[5]);
        c50 = Fma.MultiplyAdd(ai, b0, c50);
        c51 = Fma.MultiplyAdd(ai, b1, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector256<float> lo, Vector256<float> hi, Vector256<float> alpha, bool accumulate)
    {
        if (accumulate)
        {
            Fma.MultiplyAdd(lo, alpha, Vector256.Load(c)).Store(c);
            Fma.MultiplyAdd(hi, alpha, Vector256.Load(c + 8)).Store(c + 8);
        }
        else
        {
            (lo * alpha).Store(c);
            (hi * alpha).Store(c + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x8Vector128(int kc, float* a, float* b, float* c, int ldc, float alpha, bool accumulate)
    {
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, a += NarrowMR, b += NarrowNR)
        {
            var b0 = Vector128.Load(b);
            var b1 = Vector128.Load(b + 4);
            var ai = Vector128.Create(a[0]);
            c00 = SimdMath.MultiplyAdd(ai, b0, c00);
            c01 = SimdMath.MultiplyAdd(ai, b1, c01);
            ai = Vector128.Create(a[1]);
            c10 = SimdMath.MultiplyAdd(ai, b0, c10);
            c11 = SimdMath.MultiplyAdd(ai, b1, c11);
            ai = Vector128.Create(a[2]);
            c20 = SimdMath.MultiplyAdd(ai, b0, c20);
            c21 = SimdMath.MultiplyAdd(ai, b1, c21);
            ai = Vector128.Create(a[3]);
            c30 = SimdMath.MultiplyAdd(ai, b0, c30);
            c31 = SimdMath.MultiplyAdd(ai, b1, c31);
            ai = Vector128.Create(a[4]);
            c40 = SimdMath.MultiplyAdd(ai, b0, c40);
            c41 = SimdMath.MultiplyAdd(ai, b1, c41);
            ai = Vector128.Create(a[5]);
            c50 = SimdMath.MultiplyAdd(ai, b0, c50);
            c51 = SimdMath.MultiplyAdd(ai, b1, c51);
        }
        var va = Vector128.Create(alpha);
        StoreRow(c, c00, c01, va, accumulate);
        StoreRow(c + ldc, c10, c11, va, accumulate);
        StoreRow(c + 2L * ldc, c20, c21, va, accumulate);
        StoreRow(c + 3L * ldc, c30, c31, va, accumulate);
        StoreRow(c + 4L * ldc, c40, c41, va, accumulate);
        StoreRow(c + 5L * ldc, c50, c51, va, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector128<float> lo, Vector128<float> hi, Vector128<float> alpha, bool accumulate)
    {
        if (accumulate)
        {
            SimdMath.MultiplyAdd(lo, alpha, Vector128.Load(c)).Store(c);
            SimdMath.MultiplyAdd(hi, alpha, Vector128.Load(c + 4)).Store(c + 4);
        }
        else
        {
            (lo * alpha).Store(c);
            (hi * alpha).Store(c + 4);
        }
    }

    private static void KernelScalar(int kc, float* a, float* b, float* c, int ldc, float alpha, bool accumulate)
    {
        float* acc = stackalloc float[MR * NR];
        new Span<float>(acc, MR * NR).Clear();
        for (int p = 0; p < kc; p++, a += MR, b += NR)
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++)
                    acc[i * NR + j] += a[i] * b[j];
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                c[(long)i * ldc + j] = alpha * acc[i * NR + j] + (accumulate ? c[(long)i * ldc + j] : 0);
    }
}
