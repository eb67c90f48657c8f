using ILGPU;

namespace KernelLab.Backends.Ilgpu.Kernels;

/// <summary>Four floats held in registers: one row of a thread's 4 x 4 block of c.</summary>
internal struct Float4
{
    public float X, Y, Z, W;

    public void MultiplyAdd(float a, Float4 b)
    {
        X += a * b.X;
        Y += a * b.Y;
        Z += a * b.Z;
        W += a * b.W;
    }

    public readonly float this[int e] => e == 0 ? X : e == 1 ? Y : e == 2 ? Z : W;
}

/// <summary>
/// c [m, n] = alpha * op(a) op(b) (+ c when accumulate), tiled through shared memory. A group of GX x GY threads
/// computes one (4 GY) x (4 GX) block of c, each thread 4 rows (strided by GY) of 4 columns (strided by GX) in
/// registers, so that neighbouring threads read neighbouring shared-memory words. Every step stages a
/// <see cref="Depth"/>-deep slice of op(a) and op(b) in shared memory, loaded along whichever index is contiguous in the
/// stored layout. The group's shape comes from the accelerator (16 x 16 on a GPU, 4 x 4 on ILGPU's CPU accelerator), so
/// the tiles are in dynamic shared memory: [Depth][4 GY] of a, then [Depth][4 GX] of b.
/// </summary>
internal static class GemmKernels
{
    /// <summary>Rows and columns per thread.</summary>
    public const int Block = 4;

    /// <summary>Depth of a shared-memory step.</summary>
    public const int Depth = 32;

    public static void Gemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmShape s)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int gx = Group.DimX, gy = Group.DimY, tx = Group.IdxX, ty = Group.IdxY;
        int tileM = Block * gy, tileN = Block * gx, threads = gx * gy, lid = ty * gx + tx;
        var aTile = shared.SubView(0, Depth * tileM); // [p][row of the block]
        var bTile = shared.SubView(Depth * tileM, Depth * tileN); // [p][column of the block]
        int i0 = Grid.IdxY * tileM, j0 = Grid.IdxX * tileN;
        Float4 acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int p0 = 0; p0 < s.K; p0 += Depth)
        {
            for (int l = lid; l < Depth * tileM; l += threads)
            {
                // a stored [m, k] has p contiguous: consecutive threads take consecutive p.
                int p = s.TransposeA == 0 ? l % Depth : l / tileM, r = s.TransposeA == 0 ? l / Depth : l % tileM;
                int i = i0 + r, pk = p0 + p;
                aTile[p * tileM + r] = i < s.M && pk < s.K ? a[s.TransposeA == 0 ? (long)i * s.K + pk : (long)pk * s.M + i] : 0.0f;
            }
            for (int l = lid; l < Depth * tileN; l += threads)
            {
                // b stored [n, k] has p contiguous; b stored [k, n] has j contiguous.
                int p = s.TransposeB != 0 ? l % Depth : l / tileN, r = s.TransposeB != 0 ? l / Depth : l % tileN;
                int j = j0 + r, pk = p0 + p;
                bTile[p * tileN + r] = j < s.N && pk < s.K ? b[s.TransposeB != 0 ? (long)j * s.K + pk : (long)pk * s.N + j] : 0.0f;
            }
            Group.Barrier();
            for (int p = 0; p < Depth; p++)
            {
                int bRow = p * tileN + tx;
                Float4 bv;
                bv.X = bTile[bRow];
                bv.Y = bTile[bRow + gx];
                bv.Z = bTile[bRow + 2 * gx];
                bv.W = bTile[bRow + 3 * gx];
                int aRow = p * tileM + ty;
                acc0.MultiplyAdd(aTile[aRow], bv);
                acc1.MultiplyAdd(aTile[aRow + gy], bv);
                acc2.MultiplyAdd(aTile[aRow + 2 * gy], bv);
                acc3.MultiplyAdd(aTile[aRow + 3 * gy], bv);
            }
            Group.Barrier();
        }
        Store(c, s, i0 + ty, j0 + tx, gx, acc0);
        Store(c, s, i0 + ty + gy, j0 + tx, gx, acc1);
        Store(c, s, i0 + ty + 2 * gy, j0 + tx, gx, acc2);
        Store(c, s, i0 + ty + 3 * gy, j0 + tx, gx, acc3);
    }

    private static void Store(ArrayView<float> c, GemmShape s, int i, int j, int gx, Float4 acc)
    {
        if (i >= s.M)
            return;
        for (int e = 0; e < Block; e++)
        {
            int column = j + e * gx;
            if (column < s.N)
            {
                long at = (long)i * s.N + column;
                c[at] = s.Alpha * acc[e] + (s.Accumulate != 0 ? c[at] : 0.0f);
            }
        }
    }
}

/// <summary>The GEMM's sizes and flags, passed as one kernel argument.</summary>
internal struct GemmShape
{
    public int M, N, K, TransposeA, TransposeB, Accumulate;
    public float Alpha;
}
