using KernelLab.Backends.Conformance;
using KernelLab.Backends.CpuSimd;

namespace KernelLab.Tests;

/// <summary>cpu-simd's GEMM over threads: how C is cut, and that the cut does not change a bit.</summary>
public sealed class CpuSimdGemmSplitTests
{
    [Theory]
    [InlineData(1024, 384, 2, 2, 1)]   // two threads cut the larger dimension ...
    [InlineData(128, 512, 2, 1, 2)]
    [InlineData(256, 256, 2, 1, 2)]    // ... the columns on a tie
    [InlineData(1024, 1024, 64, 8, 8)] // many threads: a grid, not 64 blocks that each pack all of op(B)
    [InlineData(1024, 1024, 16, 4, 4)]
    [InlineData(4096, 256, 16, 16, 1)] // 16 column tiles of 16: a block of rows each packs less than 4 x 4
    [InlineData(1024, 16, 6, 6, 1)]    // one column tile: rows only
    [InlineData(5, 20, 8, 1, 2)]       // fewer tiles than threads: a block per tile
    [InlineData(3, 3, 3, 3, 1)]        // mr = 1: three rows of one tile
    [InlineData(1024, 1024, 1, 1, 1)]
    public void CutsCIntoAGridThatPacksTheLeast(int m, int n, int threads, int rowParts, int columnParts)
    {
        int mr = m == 3 ? 1 : 6;
        Assert.Equal((rowParts, columnParts), CpuSimdBackend.GemmSplit(m, n, threads, mr, 16));
    }

    /// <summary>Each element of C is one thread's sum over all of k: 1, 3 and 4 threads (three cuts) give the same bits.</summary>
    [Fact]
    public void TheBitsDoNotDependOnTheThreadCount()
    {
        const int m = 97, n = 130, k = 300;
        var random = new Random(11);
        double[] a = [.. Enumerable.Range(0, m * k).Select(_ => (double)(float)(random.NextDouble() * 2 - 1))];
        double[] b = [.. Enumerable.Range(0, k * n).Select(_ => (double)(float)(random.NextDouble() * 2 - 1))];
        double[] Product(int threads)
        {
            using var backend = new CpuSimdBackend(threads);
            using var da = backend.Upload(a);
            using var db = backend.Upload(b);
            using var dc = backend.Allocate(m * n);
            backend.Gemm(false, true, m, n, k, da, db, dc);
            return backend.Download(dc);
        }
        double[] one = Product(1);
        Assert.Equal(one, Product(3));
        Assert.Equal(one, Product(4));
    }
}
