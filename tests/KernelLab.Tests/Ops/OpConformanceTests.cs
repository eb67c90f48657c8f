using KernelLab.Backends;
using KernelLab.Models;

namespace KernelLab.Tests;

/// <summary>
/// Every op of every backend against the reference, forward and backward, on sizes drawn to catch edge cases:
/// 1, primes, one more than the usual vector and tile widths (9, 17, 33, 65, 257) and 31, which takes every width of
/// cpu-simd's Vector512 tier (16 + 8 + 4 + 3); and at the shapes of the
/// standard suite's workloads (the cases <c>kernellab ops</c> runs). A backend that cannot run on this machine
/// is skipped with its reason.
/// </summary>
public sealed class OpConformanceTests
{
    public static TheoryData<string> Backends => TestBackends.ComparedWithReference;

    private static readonly int[] Lengths = [1, 7, 31, 33, 65, 257, 1031];

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
    /// untransposed B) and float4 stores; the others its 4-byte ones. On cpu-simd's Vector512 tier (12 x 32 tiles, k in
    /// blocks of 128) 13 x 31 x 129 and 25 x 63 x 8 cross a row tile, miss a whole column tile by one and cross a k block.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Gemm(string backendName) => AssertGemmsMatch(backendName,
        [(1, 1, 1), (7, 17, 33), (65, 9, 1), (2, 3, 0), (33, 65, 17), (1, 257, 9), (64, 68, 15), (63, 129, 16), (128, 4, 255), (65, 67, 300), (64, 68, 520),
            (13, 31, 129), (25, 63, 8)]);

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

    /// <summary>
    /// Inner 1 (a linear layer's bias) to 7 reduce across channels in groups of 32 on cuda (33, 65 and 70 channels: one
    /// group more than full), from 8 a block per channel; no rows at all (outer 0) gives 0.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Bias(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (outer, channels, inner) in new[] { (1, 1, 1), (7, 17, 1), (3, 5, 33), (2, 65, 9), (1, 9, 257), (65, 33, 1), (9, 40, 7), (3, 70, 2), (5, 3, 8), (0, 5, 1), (3, 31, 1), (2, 3, 31) })
        foreach (bool accumulate in Bools)
            OpCases.Bias(outer, channels, inner, accumulate).AssertMatchesReference(backend);
    }

    /// <summary>
    /// (batch, in, out, H, W, k). On cuda each pass is a GEMM of 64 x 64 tiles, its depth in steps of 16: the rows after
    /// the first six cross those edges. 65 out channels (two row tiles forward and in backward weight) with a depth of 27
    /// (in * k * k) and 72 pixels; k = 1 with 66 in channels (two row tiles in backward data, a depth of 66 forward); 512
    /// pixels and 72 taps, every edge a multiple; batch 0. Backward weight splits its pixels into slices of a multiple of
    /// 16, at least 256: 561 pixels in 3 slices, the last short and the slices across images; 1517 in 6; and 34322 pixels
    /// over 2 tiles, where the split stops at about 264 blocks (127 slices of 272). The forward adds each out channel's bias
    /// as it writes y (cuda: in the GEMM's epilogue), so 65 out channels also check the second row tile's bias.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Conv2d(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        Conv2dShape[] shapes =
        [
            new(1, 1, 1, 1, 1, 1), new(2, 3, 5, 7, 9, 3), new(1, 2, 3, 1, 17, 5),
            new(2, 1, 4, 9, 1, 3), new(1, 3, 2, 5, 5, 7), new(3, 4, 6, 17, 13, 5),
            new(1, 3, 65, 8, 9, 3), new(2, 66, 5, 7, 5, 1), new(2, 8, 3, 16, 16, 3), new(0, 2, 3, 4, 5, 3),
            new(3, 2, 4, 17, 11, 5), new(1, 1, 1, 37, 41, 3), new(2, 1, 65, 131, 131, 1),
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
        foreach (var (batch, hidden) in new[] { (1, 1), (3, 7), (2, 31), (2, 33), (5, 65) })
        foreach (bool dcPrevIsDc in Bools)
            OpCases.LstmCell(batch, hidden, dcPrevIsDc).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void LayerNorm(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (rows, cols) in new[] { (1, 1), (7, 9), (3, 31), (3, 65), (17, 33), (2, 257) })
            OpCases.LayerNorm(rows, cols).AssertMatchesReference(backend);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void GruCell(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (batch, hidden) in new[] { (1, 1), (3, 7), (2, 31), (2, 33), (5, 65) })
            OpCases.GruCell(batch, hidden).AssertMatchesReference(backend);
    }

    /// <summary>
    /// Channels of 1d (inner 1) and 2d (inner H*W) batch norm, down to 4 values per channel. Not 2, the least train mode takes:
    /// then xhat is +-1 up to eps and dx is O(eps) left over from cancellation, which float32 statistics cannot resolve to
    /// 1e-4 of itself (rounding rstd alone to float32 gives 8e-4); with 3, some draws come close to that (0.25% of random
    /// draws fail); from 4 on, the errors stay near 1e-5. On cuda, inner below 8 reduces across channels in groups of 32 (33
    /// channels: one more than a group), from 8 a block per channel.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void BatchNorm(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (outer, channels, inner) in new[] { (4, 1, 1), (7, 9, 1), (65, 3, 1), (3, 5, 33), (4, 3, 65), (1, 2, 257), (9, 33, 1), (17, 7, 5), (5, 4, 8), (6, 31, 1), (4, 2, 31) })
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

    /// <summary>
    /// The L1 penalty and subgradient and the global-norm clip, with a clip that triggers and one that does not. On cuda a
    /// sum takes one block up to 2048 elements, more blocks and a second pass from 2049 (CudaReproducibilityTests takes it
    /// past its most blocks).
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void Regularisation(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (int n in new[] { 1, 31, 65, 1031, 2048, 2049, 100_003 })
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
        // Classes around a block of 256 threads and one warp; rows 1 (the ticket's first block is its last) to 64.
        foreach (int rows in new[] { 1, 3, 64 })
        foreach (int classes in new[] { 1, 2, 10, 31, 33, 255, 257 })
            OpCases.SoftmaxCrossEntropy(rows, classes).AssertMatchesReference(backend);
        // Logits near +-1e4: exp overflows or underflows without the max subtraction, and the loss loses its digits to max's spacing if taken as max + log(sum) - logit.
        foreach (var (rows, classes, offset) in new[] { (3, 257, 1e4), (64, 10, -1e4), (7, 2, 1e4) })
            OpCases.SoftmaxCrossEntropy(rows, classes, offset).AssertMatchesReference(backend);
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
        foreach (int n in new[] { 1, 31, 65, 1031 })
            OpCases.OptimizerSteps(s, n).AssertMatchesReference(backend);
    }

    // Tensors of one element, under and over a block of 256 threads, an empty one between them, and one chunk of a
    // multi-tensor block (1024 elements on cuda) plus one.
    private static readonly long[] TensorLengths = [1, 255, 0, 257, 1000, 1025];

    [Theory]
    [MemberData(nameof(Backends))]
    public void OptimizerStepsOverTensors(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var s in OptimizerVariants)
            OpCases.OptimizerStepsOverTensors(s, TensorLengths).AssertMatchesReference(backend);
    }

    /// <summary>The multi-tensor step gives each tensor the bits of its own single-tensor step: the same arithmetic, only fewer launches.</summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void OptimizerStepOverTensorsIsEachTensorsOwnStep(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        var data = new RandomData(16);
        foreach (var s in OptimizerVariants)
        {
            double initial = s.Kind == OptimizerKind.Adagrad ? s.InitialAccumulatorValue : 0;
            double[][] param = [.. TensorLengths.Select(n => data.Uniform(n))], grad = [.. TensorLengths.Select(n => data.Uniform(n))];
            OptimizerTensor[] Upload() => [.. TensorLengths.Select((n, k) => new OptimizerTensor(backend.Upload(param[k]), backend.Upload(grad[k]),
                [.. Enumerable.Range(0, s.StateCount).Select(_ => (DeviceView)backend.Upload(Enumerable.Repeat(initial, (int)n).ToArray()))]))];
            OptimizerTensor[] together = Upload(), alone = Upload();
            for (int step = 1; step <= 3; step++)
            {
                backend.OptimizerStep(s, step, together);
                foreach (var t in alone)
                    backend.OptimizerStep(s, step, t.Param, t.Grad, t.State);
            }
            for (int k = 0; k < TensorLengths.Length; k++)
            {
                Assert.Equal(backend.Download(alone[k].Param), backend.Download(together[k].Param));
                for (int i = 0; i < s.StateCount; i++)
                    Assert.Equal(backend.Download(alone[k].State[i]), backend.Download(together[k].State[i]));
            }
        }
    }

    /// <summary>Every op at the shapes the standard suite's workloads run it (what <c>kernellab ops</c> checks before it times).</summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void StandardWorkloadShapes(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var c in StandardWorkloads.OpCases().DistinctBy(c => c.Case.Name))
            c.Case.AssertMatchesReference(backend);
    }
}
