using KernelLab.Backends;

namespace KernelLab.Tests;

/// <summary>
/// Every op of every backend against the reference, forward and backward, on sizes drawn to catch edge cases:
/// 1, primes, and one more than the usual vector and tile widths (9, 17, 33, 65, 257). A backend that cannot run
/// on this machine is skipped with its reason.
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
            new OpCheck($"fill n={n}").Out("y", n)
                .Run(backend, (b, t) => b.Fill(t["y"], 0.25f));
            new OpCheck($"add n={n}").In("a", n).In("b", n).Out("y", n)
                .Run(backend, (b, t) => b.Add(t["a"], t["b"], t["y"], n));
            new OpCheck($"add into a n={n}").In("a", n).In("b", n)
                .Run(backend, (b, t) => b.Add(t["a"], t["b"], t["a"], n));
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
            new OpCheck($"{f} n={n}").In("x", n, -4, 4).In("dy", n).Out("y", n).Out("dx", n)
                .Run(backend, (b, t) =>
                {
                    b.ActivationForward(f, t["x"], t["y"], n);
                    b.ActivationBackward(f, t["x"], t["y"], t["dy"], t["dx"], n);
                });
            // The aliasing the contract allows: y = x, and dx = dy.
            new OpCheck($"{f} in place n={n}").In("x", n, -4, 4).In("dy", n).Out("y", n).In("xy", n, -4, 4)
                .Run(backend, (b, t) =>
                {
                    b.ActivationForward(f, t["x"], t["y"], n);
                    b.ActivationBackward(f, t["x"], t["y"], t["dy"], t["dy"], n);
                    b.ActivationForward(f, t["xy"], t["xy"], n);
                });
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Gemm(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 17, 33), (65, 9, 1), (2, 3, 0), (33, 65, 17), (1, 257, 9) })
        foreach (bool transposeA in Bools)
        foreach (bool transposeB in Bools)
        foreach (bool accumulate in Bools)
        {
            new OpCheck($"gemm m={m} n={n} k={k} transposeA={transposeA} transposeB={transposeB} accumulate={accumulate}")
                .In("a", m * k).In("b", k * n).Out("c", m * n, accumulated: accumulate)
                .Run(backend, (b, t) => b.Gemm(transposeA, transposeB, m, n, k, t["a"], t["b"], t["c"], 0.75f, accumulate));
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Bias(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (outer, channels, inner) in new[] { (1, 1, 1), (7, 17, 1), (3, 5, 33), (2, 65, 9), (1, 9, 257) })
        foreach (bool accumulate in Bools)
        {
            int length = outer * channels * inner;
            new OpCheck($"bias outer={outer} channels={channels} inner={inner} accumulate={accumulate}")
                .In("y", length).In("bias", channels).In("dy", length).Out("dBias", channels, accumulated: accumulate)
                .Run(backend, (b, t) =>
                {
                    b.AddBias(t["y"], t["bias"], outer, channels, inner);
                    b.BiasBackward(t["dy"], t["dBias"], outer, channels, inner, accumulate);
                });
        }
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
        {
            new OpCheck($"conv2d {s}").In("x", s.InputLength).In("w", s.WeightLength).In("dy", s.OutputLength)
                .Out("y", s.OutputLength).Out("dx", s.InputLength).Out("dw", s.WeightLength)
                .Run(backend, (b, t) =>
                {
                    b.Conv2dForward(t["x"], t["w"], t["y"], s);
                    b.Conv2dBackwardData(t["dy"], t["w"], t["dx"], s);
                    b.Conv2dBackwardWeight(t["x"], t["dy"], t["dw"], s);
                });
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void MaxPool2d(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        Pool2dShape[] shapes = [new(1, 1, 1), new(1, 1, 8), new(2, 2, 2), new(3, 7, 9), new(5, 17, 33), new(2, 65, 6)];
        foreach (var s in shapes)
        foreach (bool ties in Bools)
        {
            // With ties, windows often hold equal maxima: the first in row-major order must win everywhere.
            new OpCheck($"maxpool {s} ties={ties}")
                .In("x", data => ties ? data.Levels(s.InputLength, 3) : data.Uniform(s.InputLength)).In("dy", s.OutputLength)
                .Out("y", s.OutputLength).Out("dx", s.InputLength).IndexScratch("argMax", s.OutputLength)
                .Run(backend, (b, t) =>
                {
                    b.MaxPool2dForward(t["x"], t["y"], t.Indices("argMax"), s);
                    b.MaxPool2dBackward(t["dy"], t.Indices("argMax"), t["dx"], s);
                });
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Embedding(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        // Many more ids than vocabulary entries: the backward's scatter-add meets the same row many times.
        foreach (var (count, vocab, dim) in new[] { (1, 1, 1), (17, 7, 9), (65, 5, 33), (33, 257, 3) })
        {
            new OpCheck($"embedding count={count} vocab={vocab} dim={dim}")
                .Indices("ids", count, vocab).In("table", vocab * dim).In("dy", count * dim)
                .Out("y", count * dim).Out("dTable", vocab * dim, accumulated: true)
                .Run(backend, (b, t) =>
                {
                    b.EmbeddingForward(t.Indices("ids"), t["table"], t["y"], count, vocab, dim);
                    b.EmbeddingBackward(t.Indices("ids"), t["dy"], t["dTable"], count, vocab, dim);
                });
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void LstmCell(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (batch, hidden) in new[] { (1, 1), (3, 7), (2, 33), (5, 65) })
        foreach (bool dcPrevIsDc in Bools)
        {
            int bh = batch * hidden;
            var check = new OpCheck($"lstm batch={batch} hidden={hidden} dcPrevIsDc={dcPrevIsDc}")
                .In("preact", 4 * bh, -3, 3).In("cPrev", bh).In("dh", bh).In("dc", bh)
                .Out("gates", 4 * bh).Out("c", bh).Out("h", bh).Out("dPreact", 4 * bh);
            if (!dcPrevIsDc)
                check.Out("dcPrev", bh);
            check.Run(backend, (b, t) =>
            {
                b.LstmCellForward(t["preact"], t["cPrev"], t["gates"], t["c"], t["h"], batch, hidden);
                b.LstmCellBackward(t["gates"], t["cPrev"], t["c"], t["dh"], t["dc"], t["dPreact"], t[dcPrevIsDc ? "dc" : "dcPrev"], batch, hidden);
            });
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void LayerNorm(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (rows, cols) in new[] { (1, 1), (7, 9), (3, 65), (17, 33), (2, 257) })
        {
            int n = rows * cols;
            new OpCheck($"layernorm rows={rows} cols={cols}")
                .In("x", n, -2, 3).In("weight", cols).In("bias", cols).In("dy", n)
                .Out("y", n).Out("mean", rows).Out("rstd", rows).Out("dx", n).Out("dWeight", cols).Out("dBias", cols)
                .Run(backend, (b, t) =>
                {
                    b.LayerNormForward(t["x"], t["weight"], t["bias"], t["y"], t["mean"], t["rstd"], rows, cols, 1e-5f);
                    b.LayerNormBackward(t["dy"], t["x"], t["weight"], t["mean"], t["rstd"], t["dx"], t["dWeight"], t["dBias"], rows, cols);
                });
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Attention(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        AttentionShape[] shapes = [new(1, 1, 4, 1), new(2, 7, 12, 3), new(1, 17, 9, 3), new(3, 9, 8, 8), new(1, 33, 16, 2), new(2, 65, 8, 1)];
        foreach (var s in shapes)
        {
            new OpCheck($"attention {s}").In("qkv", s.QkvLength, -2, 2).In("dy", s.OutputLength)
                .Out("y", s.OutputLength).Out("probabilities", s.ProbabilitiesLength).Out("dQkv", s.QkvLength)
                .Run(backend, (b, t) =>
                {
                    b.AttentionForward(t["qkv"], t["y"], t["probabilities"], s);
                    b.AttentionBackward(t["dy"], t["qkv"], t["probabilities"], t["dQkv"], s);
                });
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SoftmaxCrossEntropy(string backendName)
    {
        using var backend = TestBackends.CreateOrSkip(backendName);
        foreach (var (rows, classes) in new[] { (1, 1), (7, 9), (17, 65), (3, 257), (64, 10) })
        {
            int n = rows * classes;
            new OpCheck($"softmax cross-entropy rows={rows} classes={classes}")
                .In("logits", n, -5, 5).Indices("targets", rows, classes)
                .Out("probabilities", n).Out("loss", 1).Out("dLogits", n)
                .Run(backend, (b, t) =>
                {
                    b.SoftmaxCrossEntropyForward(t["logits"], t.Indices("targets"), t["probabilities"], t["loss"], rows, classes);
                    b.SoftmaxCrossEntropyBackward(t["probabilities"], t.Indices("targets"), t["dLogits"], rows, classes);
                });
        }
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
        const int steps = 3;
        foreach (var s in OptimizerVariants)
        foreach (int n in new[] { 1, 65, 1031 })
        {
            // The state starts as the caller fills it: zeros, or Adagrad's initial accumulator value.
            double initial = s.Kind == OptimizerKind.Adagrad ? s.InitialAccumulatorValue : 0;
            var check = new OpCheck($"{s} n={n}").In("param", n).In("grads", steps * n);
            for (int i = 0; i < s.StateCount; i++)
                check.In($"state{i}", Enumerable.Repeat(initial, n).ToArray());
            check.Run(backend, (b, t) =>
            {
                var state = Enumerable.Range(0, s.StateCount).Select(i => (DeviceView)t[$"state{i}"]).ToArray();
                for (int step = 1; step <= steps; step++)
                    b.OptimizerStep(s, step, t["param"], t["grads"].Slice((step - 1) * n, n), state);
            });
        }
    }
}
