using KernelLab.Backends;
using KernelLab.Backends.Conformance;
using KernelLab.Backends.Cuda;
using KernelLab.Backends.Reference;

namespace KernelLab.Tests;

/// <summary>
/// The cuda backend's choice of GEMM kernel, tile and split of k (<see cref="GemmPlan"/>): a pure function of the shape and
/// the SM count, checked here without a device; and the kernels on views that start at any float, on the emulator or a GPU.
/// </summary>
public sealed class CudaGemmPlanTests
{
    private const int H200 = 132;

    /// <summary>The shapes of the op conformance rows (OpConformanceTests.Gemm, Gemm_CudaLargeTiles) reach the path each is there for.</summary>
    [Theory]
    [InlineData(7, 17, 33, 64, 1, 33)]
    [InlineData(2, 3, 0, 64, 1, 0)]
    [InlineData(128, 4, 255, 64, 1, 255)] // k one short of two slices of MinSplitK
    [InlineData(65, 67, 300, 64, 2, 160)] // 300 = 160 + 140
    [InlineData(64, 68, 520, 64, 4, 144)] // 520 = 3 * 144 + 88
    [InlineData(129, 8321, 17, 128, 1, 17)] // 2 x 66 tiles
    [InlineData(8321, 132, 9, 128, 1, 9)]
    [InlineData(5, 8321, 300, 128, 2, 152)] // 66 tiles x 2 slices, 300 = 152 + 148
    [InlineData(4, 8324, 300, 128, 2, 152)]
    public void ConformanceShapes_ReachTheirPath(int m, int n, int k, int tile, int splits, int splitK)
    {
        var plan = GemmPlan.For(m, n, k, H200);
        Assert.Equal((tile, splits, splitK), (plan.Tile, plan.Splits, plan.SplitK));
        Assert.Equal(tile == 128 ? "gemm_128" : "gemm_64", plan.TileKernel.Name);
    }

    /// <summary>The weight gradients of the standard workloads (k = batch x time) and a forward of a long k: a few blocks unsplit, split towards a block per SM.</summary>
    [Theory]
    [InlineData(384, 128, 1024, 12, 96)]  // transformer: attention's qkv weight
    [InlineData(512, 128, 1024, 16, 128)] // transformer: the first feed-forward weight; lstm: weight_hh
    [InlineData(128, 512, 1024, 16, 128)] // transformer: the second
    [InlineData(256, 128, 1024, 8, 64)]   // transformer: the output head
    [InlineData(512, 64, 1024, 8, 64)]    // lstm: weight_ih
    [InlineData(64, 128, 1568, 2, 22)]    // cnn: the first linear layer's forward, k = 32 x 7 x 7
    public void StandardWeightGradients_AreSplit(int m, int n, int k, int unsplitBlocks, int blocks)
    {
        var plan = GemmPlan.For(m, n, k, H200);
        Assert.Equal(64, plan.Tile);
        Assert.Equal(unsplitBlocks, plan.Blocks / plan.Splits);
        Assert.Equal(blocks, plan.Blocks);
    }

    [Theory]
    [InlineData(8192, 8192, 8192)] // the large mlp
    [InlineData(16384, 3072, 1024)] // the large transformer's qkv projection
    [InlineData(1409, 1409, 1)]
    public void LargeOutputs_TakeTheLargeTileUnsplit(int m, int n, int k)
    {
        var plan = GemmPlan.For(m, n, k, H200);
        Assert.Equal((128, 1, k), (plan.Tile, plan.Splits, plan.SplitK));
        Assert.True(plan.Blocks >= H200);
    }

    /// <summary>Whatever the shape and device: slices of whole k steps, none empty, none shorter than MinSplitK but the last,
    /// gemm_128 only where it gives each SM a block, a split only where the tiles alone do not, and a grid within CUDA's limits.</summary>
    [Fact]
    public void EveryPlan_KeepsItsRules()
    {
        int[] lengths = [0, 1, 3, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 1000, 1024, 4099, 8321, 65536];
        foreach (int sms in new[] { 1, 2, 46, 108, H200 })
        foreach (int m in lengths)
        foreach (int n in lengths)
        foreach (int k in lengths)
        {
            var plan = GemmPlan.For(m, n, k, sms);
            string name = $"{m} x {n} x {k} on {sms} SMs: {plan}";
            Assert.True(plan.Splits >= 1, name);
            if (plan.Splits == 1)
                Assert.True(plan.SplitK == k, name);
            else
            {
                Assert.True(plan.SplitK % plan.TileK == 0 && plan.SplitK >= GemmPlan.MinSplitK, name);
                Assert.True((long)(plan.Splits - 1) * plan.SplitK < k && (long)plan.Splits * plan.SplitK >= k, name);
                Assert.True(plan.Blocks / plan.Splits < sms, name);
                Assert.True(plan.Blocks < (GemmPlan.BlocksPerMultiprocessor + 1L) * sms, name);
            }
            if (plan.Tile == 128)
                Assert.True(plan.Blocks >= sms, name);
            Assert.True(plan.Grid.Y <= ushort.MaxValue && plan.Grid.X <= int.MaxValue, name);
            Assert.Equal(plan, GemmPlan.For(m, n, k, sms));
        }
    }

    /// <summary>
    /// Operands and output at views 1, 2 and 4 floats into their buffers (a time step of a sequence, a slice of a parameter
    /// block): misaligned views take the 4-byte copies and scalar stores, aligned ones the float4 ones, with and without a
    /// split of k, on each tile.
    /// </summary>
    [Theory]
    [InlineData(64, 68, 40)]   // gemm_64
    [InlineData(64, 68, 520)]  // gemm_64, four slices
    [InlineData(4, 8324, 300)] // gemm_128, two slices
    public void Gemm_OnViewsAtAnyOffset(int m, int n, int k)
    {
        using var backend = TestBackends.CreateOrSkip("cuda");
        using var reference = new ReferenceBackend();
        var data = new RandomData(m + n + k);
        double[] a = data.Uniform((long)m * k), b = data.Uniform((long)k * n), c = data.Uniform((long)m * n);
        foreach (int offset in new[] { 1, 2, 4 })
        foreach (bool transposeA in new[] { false, true })
        {
            double[] expected = Run(reference, offset, transposeA, m, n, k, a, b, c);
            double[] actual = Run(backend, offset, transposeA, m, n, k, a, b, c);
            var result = TensorComparison.Compare($"gemm {m} x {n} x {k} transposeA={transposeA} at offset {offset}", actual, expected,
                TensorComparison.ToleranceFor(backend.Precision));
            Assert.True(result.Passed, result.ToString());
        }
    }

    // c = 0.5 op(a) b + c on views offset floats into buffers of a multiple of 4 floats (which the emulator, like a GPU, aligns to 16 bytes).
    private static double[] Run(Backend backend, int offset, bool transposeA, int m, int n, int k, double[] a, double[] b, double[] c)
    {
        using var bufferA = Upload(backend, offset, a);
        using var bufferB = Upload(backend, offset, b);
        using var bufferC = Upload(backend, offset, c);
        var viewC = bufferC.Slice(offset, c.Length);
        backend.Gemm(transposeA, false, m, n, k, bufferA.Slice(offset, a.Length), bufferB.Slice(offset, b.Length), viewC, 0.5, accumulate: true);
        return backend.Download(viewC);
    }

    private static DeviceBuffer Upload(Backend backend, int offset, double[] values)
    {
        var padded = new double[(offset + values.Length + 3) / 4 * 4];
        values.CopyTo(padded, offset);
        return backend.Upload(padded);
    }
}
