using KernelLab.Backends;
using KernelLab.Models;

namespace KernelLab.Tests;

/// <summary>
/// Every op of every backend against the reference, forward and backward, on sizes drawn to catch edge cases:
/// 1, primes, and one more than the usual vector and tile widths (9, 17, 33, 65, 257); and at the shapes of the
/// standard suite's workloads (the cases <c>kernellab ops</c> runs). A backend that cannot run on this machine
/// is skipped with its reason.
/// </summary>
public sealed class OpConformanceTests
{
    public static TheoryData<string> Backends => TestBackends.ComparedWithReference;

    private static readonly int[] Lengths = [1, 7, 33, 65, 257, 1031];

    private static readonly bool[] Bools = [false, true];

    [Theory]
    [MemberData(nameof(Backends))]
    public void FillAndAdd(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (int n in Lengths)
        {
            OpCases.Fill(n).AssertMatchesReference(backend);
            OpCases.Add(n).AssertMatchesReference(backend);
            OpCases.Add(n, intoA: true).AssertMatchesReference(backend);
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Activations(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var f in Enum.GetValues<Activation>())
        foreach (int n in Lengths)
        {
            OpCases.Activation(f, n).AssertMatchesReference(backend);
            OpCases.Activation(f, n, inPlace: true).AssertMatchesReference(backend);
        }
    }

    /// <summary>
    /// Edge shapes, which on the cuda backend (at an H200's 132 SMs: the CUDA emulator reports as many; backends/Cuda/GemmPlan.cs)
    /// reach gemm_64 whole (64-tile and 16-deep k-step edges, k = 0) and with k split, in two and in four slices, the last
    /// shorter (65 x 67 x 300, 64 x 68 x 520). m and n multiples of 4 take its float4 copies (of a transposed A, an
    /// untransposed B) and float4 stores; the others its 4-byte ones.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Gemm(string backendName) => AssertGemmsMatch(backendName,
        [(1, 1, 1), (7, 17, 33), (65, 9, 1), (2, 3, 0), (33, 65, 17), (1, 257, 9), (64, 68, 15), (63, 129, 16), (128, 4, 255), (65, 67, 300), (64, 68, 520)]);

    /// <summary>
    /// The cuda backend's gemm_128, which takes a shape only where its 128 x 128 tiles give each of the 132 SMs a block:
    /// whole (132 tiles, an edge of one row or column) and with k split in two (132 blocks of a 4- or 5-row tile). These
    /// shapes are for its plan; on ILGPU's CPU accelerator they would take most of a minute.
    /// </summary>
    [Theory]
    [InlineData(129, 8321, 17)]
    [InlineData(8321, 132, 9)]
    [InlineData(5, 8321, 300)]
    [InlineData(4, 8324, 300)]
    public void Gemm_CudaLargeTiles(int m, int n, int k) => AssertGemmsMatch("cuda", [(m, n, k)]);

    private static void AssertGemmsMatch(string backendName, (int M, int N, int K)[] shapes)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (m, n, k) in shapes)
        foreach (bool transposeA in Bools)
        foreach (bool transposeB in Bools)
        foreach (bool accumulate in Bools)
            OpCases.Gemm(m, n, k, transposeA, transposeB, accumulate).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Bias(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (outer, channels, inner) in new[] { (1, 1, 1), (7, 17, 1), (3, 5, 33), (2, 65, 9), (1, 9, 257) })
        foreach (bool accumulate in Bools)
            OpCases.Bias(outer, channels, inner, accumulate).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Conv2d(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        Conv2dShape[] shapes =
        [
            new(1, 1, 1, 1, 1, 1), new(2, 3, 5, 7, 9, 3), new(1, 2, 3, 1, 17, 5),
            new(2, 1, 4, 9, 1, 3), new(1, 3, 2, 5, 5, 7), new(3, 4, 6, 17, 13, 5),
        ];
        foreach (var s in shapes)
            OpCases.Conv2d(s).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void MaxPool2d(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        Pool2dShape[] shapes = [new(1, 1, 1), new(1, 1, 8), new(2, 2, 2), new(3, 7, 9), new(5, 17, 33), new(2, 65, 6)];
        foreach (var s in shapes)
        foreach (bool ties in Bools)
            OpCases.MaxPool2d(s, ties).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Embedding(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        // Many more ids than vocabulary entries: the backward's scatter-add meets the same row many times.
        foreach (var (count, vocab, dim) in new[] { (1, 1, 1), (17, 7, 9), (65, 5, 33), (33, 257, 3) })
            OpCases.Embedding(count, vocab, dim).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void LstmCell(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (batch, hidden) in new[] { (1, 1), (3, 7), (2, 33), (5, 65) })
        foreach (bool dcPrevIsDc in Bools)
            OpCases.LstmCell(batch, hidden, dcPrevIsDc).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void LayerNorm(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (rows, cols) in new[] { (1, 1), (7, 9), (3, 65), (17, 33), (2, 257) })
            OpCases.LayerNorm(rows, cols).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void GruCell(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (batch, hidden) in new[] { (1, 1), (3, 7), (2, 33), (5, 65) })
            OpCases.GruCell(batch, hidden).AssertMatchesReference(backend);
    }

    /// <summary>
    /// Channels of 1d (inner 1) and 2d (inner H*W) batch norm, down to 4 values per channel. Not 2, the least train mode takes:
    /// then xhat is +-1 up to eps and dx is O(eps) left over from cancellation, which float32 statistics cannot resolve to
    /// 1e-4 of itself (rounding rstd alone to float32 gives 8e-4); with 3, some draws come close to that (0.25% of random
    /// draws fail); from 4 on, the errors stay near 1e-5.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void BatchNorm(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (outer, channels, inner) in new[] { (4, 1, 1), (7, 9, 1), (65, 3, 1), (3, 5, 33), (4, 3, 65), (1, 2, 257) })
            OpCases.BatchNorm(outer, channels, inner).AssertMatchesReference(backend);
    }

    /// <summary>
    /// Every backend draws the reference's mask bit for bit: a wrong bit is an error of 1/(1-p) in the mask. Steps past
    /// 2^32 and seeds past 2^32 reach the counter's and the key's high words.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Dropout(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        DropoutMask[] masks = [new(0, 1, 0, 1), new(0.1, 1, 0, 1), new(0.5, 7, 3, 12), new(0.9, 0x1_0000_0003, 1, 0x2_0000_0001)];
        foreach (var m in masks)
        foreach (int n in Lengths)
        foreach (bool inPlace in Bools)
            OpCases.Dropout(n, m, inPlace).AssertMatchesReference(backend);
    }

    /// <summary>The L1 penalty and subgradient and the global-norm clip, with a clip that triggers and one that does not.</summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Regularisation(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (int n in new[] { 1, 65, 1031, 100_003 })
        foreach (double maxNorm in new[] { 0.5, 1e6 })
            OpCases.Regularisation(n, 0.01, maxNorm).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Attention(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        AttentionShape[] shapes = [new(1, 1, 4, 1), new(2, 7, 12, 3), new(1, 17, 9, 3), new(3, 9, 8, 8), new(1, 33, 16, 2), new(2, 65, 8, 1)];
        foreach (var s in shapes)
            OpCases.Attention(s).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SoftmaxCrossEntropy(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (rows, classes) in new[] { (1, 1), (7, 9), (17, 65), (3, 257), (64, 10) })
            OpCases.SoftmaxCrossEntropy(rows, classes).AssertMatchesReference(backend);
    }

    private static readonly OptimizerSettings[] OptimizerVariants =
    [
        new() { Kind = OptimizerKind.Sgd, LearningRate = 0.1, WeightDecay = 0.01 },
        new() { Kind = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0.9, Dampening = 0.1, WeightDecay = 0.01 },
        new() { Kind = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0.9, Nesterov = true },
        OptimizerSettings.Defaults(OptimizerKind.Adam, 1e-2) with { WeightDecay = 0.01 },
        OptimizerSettings.Defaults(OptimizerKind.AdamW, 1e-2),
        OptimizerSettings.Defaults(OptimizerKind.RmsProp, 1e-2),
        OptimizerSettings.Defaults(OptimizerKind.RmsProp, 1e-2) with { Momentum = 0.9, Centered = true, WeightDecay = 0.01 },
        OptimizerSettings.Defaults(OptimizerKind.Adagrad, 0.1) with { LearningRateDecay = 0.01, WeightDecay = 0.01, InitialAccumulatorValue = 0.1 },
    ];

    [Theory]
    [MemberData(nameof(Backends))]
    public void OptimizerSteps(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var s in OptimizerVariants)
        foreach (int n in new[] { 1, 65, 1031 })
            OpCases.OptimizerSteps(s, n).AssertMatchesReference(backend);
    }

    /// <summary>Every op at the shapes the standard suite's workloads run it (what <c>kernellab ops</c> checks before it times).</summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void StandardWorkloadShapes(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (_, opCase) in StandardWorkloads.OpCases())
            opCase.AssertMatchesReference(backend);
    }
}
