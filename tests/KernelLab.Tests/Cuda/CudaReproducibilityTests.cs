using KernelLab.Backends;
using KernelLab.Backends.Conformance;

namespace KernelLab.Tests;

/// <summary>
/// The cuda backend gives the same bits every run: the backward passes that collect gradient from many blocks (embedding
/// rows from every token, attention keys and values from every query that sees them) and the GEMMs that split k over
/// blocks gather it in a fixed order instead of adding it atomically. On the emulator each launch runs its blocks in a fresh shuffled order, so a kernel whose
/// result depends on that order fails here; on a GPU the blocks race.
/// </summary>
public sealed class CudaReproducibilityTests
{
    private const int Runs = 4;

    [Fact]
    public void EmbeddingBackward_IsTheSameBitsEveryRun()
    {
        using var backend = TestBackends.CreateOrSkip("cuda");
        // Many more tokens than rows, over many blocks: every row collects gradient from tokens in every block.
        const int count = 509, vocab = 7, dim = 33;
        var data = new RandomData(16);
        using var ids = backend.Upload(data.Indices(count, vocab));
        using var dy = backend.Upload(data.Uniform((long)count * dim));
        double[] initial = data.Uniform((long)vocab * dim);
        AssertSameEveryRun("embedding backward dTable", () =>
        {
            using var dTable = backend.Upload(initial);
            backend.EmbeddingBackward(ids, dy, dTable, count, vocab, dim);
            return backend.Download(dTable);
        });
    }

    [Fact]
    public void AttentionBackward_IsTheSameBitsEveryRun()
    {
        using var backend = TestBackends.CreateOrSkip("cuda");
        var s = new AttentionShape(2, 65, 16, 2);
        var data = new RandomData(17);
        using var qkv = backend.Upload(data.Uniform(s.QkvLength, -2, 2));
        using var dy = backend.Upload(data.Uniform(s.OutputLength));
        using var y = backend.Allocate(s.OutputLength);
        using var probabilities = backend.Allocate(s.ProbabilitiesLength);
        backend.AttentionForward(qkv, y, probabilities, s);
        AssertSameEveryRun("attention backward dQkv", () =>
        {
            using var dQkv = backend.AllocatePoisoned(s.QkvLength);
            backend.AttentionBackward(dy, qkv, probabilities, dQkv, s);
            return backend.Download(dQkv);
        });
    }

    /// <summary>
    /// SumReduce past its most blocks (1024 of 256 threads and 2048 elements, one element more): each block's partial sum,
    /// then one block adding them in order, is the sum to float32's accuracy and the same bits whatever order the blocks ran in.
    /// </summary>
    [Fact]
    public void SumReduce_OfManyBlocks_IsTheSameBitsEveryRun()
    {
        using var backend = TestBackends.CreateOrSkip("cuda");
        const long n = 1024 * 2048 + 1;
        float[] values = [.. new RandomData(18).Uniform(n).Select(v => (float)v)];
        double expected = 0.5 + 0.25 * values.Sum(v => Math.Abs((double)v));
        using var x = backend.Upload([.. values.Select(v => (double)v)]);
        AssertSameEveryRun("sum of |x|", () =>
        {
            using var sum = backend.Upload([0.5]);
            backend.SumReduce(Reduction.SumAbs, x, n, sum, alpha: 0.25, accumulate: true);
            double[] result = backend.Download(sum);
            Assert.True(Math.Abs(result[0] - expected) <= 1e-4 * Math.Abs(expected), $"sum of |x|: {result[0]:R}, expected {expected:R}");
            return result;
        }, runs: 2);
    }

    /// <summary>A GEMM whose k is split over blocks (backends/Cuda/GemmPlan.cs) adds the slices in order, not as they finish.</summary>
    [Theory]
    [InlineData(64, 68, 520)]  // gemm_64, four slices
    [InlineData(5, 8321, 300)] // gemm_128, two
    public void SplitGemm_IsTheSameBitsEveryRun(int m, int n, int k)
    {
        using var backend = TestBackends.CreateOrSkip("cuda");
        var data = new RandomData(18);
        using var a = backend.Upload(data.Uniform((long)k * m));
        using var b = backend.Upload(data.Uniform((long)k * n));
        AssertSameEveryRun($"gemm {m} x {n} x {k}", () =>
        {
            using var c = backend.AllocatePoisoned((long)m * n);
            backend.Gemm(true, false, m, n, k, a, b, c);
            return backend.Download(c);
        });
    }

    public static TheoryData<string> Workloads => new(StandardWorkloads.Names);

    /// <summary>The loss and every gradient of a standard workload's forward and backward, computed twice on one network.</summary>
    [Theory]
    [MemberData(nameof(Workloads))]
    public void Gradients_AreTheSameBitsEveryRun(string workload)
    {
        using var backend = TestBackends.CreateOrSkip("cuda");
        using var network = StandardWorkloads.Open(backend, workload);
        AssertSameEveryRun($"{workload}: loss and gradients", () =>
        {
            double loss = network.ComputeGradients();
            return [loss, .. network.Parameters.All.SelectMany(p => backend.Download(p.Grad))];
        }, runs: 2);
    }

    private static void AssertSameEveryRun(string name, Func<double[]> run, int runs = Runs)
    {
        double[] first = run();
        for (int r = 2; r <= runs; r++)
        {
            double[] again = run();
            int[] differ = [.. Enumerable.Range(0, first.Length).Where(i => BitConverter.DoubleToInt64Bits(first[i]) != BitConverter.DoubleToInt64Bits(again[i]))];
            Assert.True(differ.Length == 0,
                $"{name}: run {r} differs from run 1 in {differ.Length} of {first.Length} elements; first at [{differ.FirstOrDefault()}]: " +
                $"{again[differ.FirstOrDefault()]:R} vs {first[differ.FirstOrDefault()]:R}");
        }
    }
}
