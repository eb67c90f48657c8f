namespace KernelLab.Backends.Conformance;

/// <summary>
/// One op of the contract (a forward together with its backward where it has one) at one shape: its inputs,
/// outputs and the calls that run it, and the arithmetic they do (<see cref="Flop"/>). The tests check these at odd
/// shapes, <c>kernellab ops</c> and the tests at the shapes of a suite's workloads (recorded from a training step by
/// suites/Runner's OpRecorder), with the same code.
/// </summary>
public sealed record OpCase(string Op, string Shape, double Flop, OpCheck Inputs, Action<Backend, OpBuffers> Run)
{
    public string Name => $"{Op} {Shape}";

    /// <summary>The least bytes the calls move at <paramref name="precision"/> (<see cref="OpCheck.Bytes"/>): with <see cref="Flop"/>, the op's arithmetic intensity.</summary>
    public long Bytes(Precision precision) => Inputs.Bytes(precision);

    /// <summary>Runs the op on <paramref name="backend"/> and on the reference, from the same random inputs, with poisoned outputs.</summary>
    public OpCheckResult Check(Backend backend) => Inputs.Check(backend, Run);
}

/// <summary>
/// The op cases, one factory per op group of <see cref="Backend"/>. Each counts its FLOP as models/FlopCount.cs counts a
/// training step: 2 per multiply-add of the products (GEMM, convolution, attention), every pass; and, for element-wise
/// work, which FlopCount leaves out, one per add, multiply, compare or function value of the op's formula per element.
/// </summary>
public static class OpCases
{
    public static OpCase Fill(int n) =>
        Case("fill", $"n={n}", 0, c => c.Out("y", n), (b, t) => b.Fill(t["y"], 0.25));

    /// <summary>y = a + b, or a = a + b when <paramref name="intoA"/> (the aliasing residual connections use).</summary>
    public static OpCase Add(long n, bool intoA = false) =>
        Case(intoA ? "add into a" : "add", $"n={n}", n,
            c => intoA ? c.Updated("a", n).In("b", n) : c.In("a", n).In("b", n).Out("y", n),
            (b, t) => b.Add(t["a"], t["b"], intoA ? t["a"] : t["y"], n));

    /// <summary>
    /// Forward and backward of <paramref name="f"/>; <paramref name="inPlace"/> adds the aliasing the contract allows (y = x, dx = dy).
    /// FLOP: f(x) one per element, dx = dy * f'(x) two.
    /// </summary>
    public static OpCase Activation(Activation f, long n, bool inPlace = false) => inPlace
        ? Case($"{f} in place", $"n={n}", 4.0 * n, c => c.In("x", n, -4, 4).Updated("dy", n).Out("y", n).Updated("xy", n, -4, 4), (b, t) =>
        {
            b.ActivationForward(f, t["x"], t["y"], n);
            b.ActivationBackward(f, t["x"], t["y"], t["dy"], t["dy"], n);
            b.ActivationForward(f, t["xy"], t["xy"], n);
        })
        : Case($"{f}", $"n={n}", 3.0 * n, c => c.In("x", n, -4, 4).In("dy", n).Out("y", n).Out("dx", n), (b, t) =>
        {
            b.ActivationForward(f, t["x"], t["y"], n);
            b.ActivationBackward(f, t["x"], t["y"], t["dy"], t["dx"], n);
        });

    public static OpCase Gemm(int m, int n, int k, bool transposeA, bool transposeB, bool accumulate, double alpha = 0.75) =>
        Case("gemm", $"m={m} n={n} k={k} transposeA={transposeA} transposeB={transposeB} accumulate={accumulate}", 2.0 * m * n * k,
            c => c.In("a", (long)m * k).In("b", (long)k * n).Out("c", (long)m * n, accumulated: accumulate),
            (b, t) => b.Gemm(transposeA, transposeB, m, n, k, t["a"], t["b"], t["c"], alpha, accumulate));

    /// <summary><see cref="Backend.AddBias"/> and <see cref="Backend.BiasBackward"/>: one add per element each.</summary>
    public static OpCase Bias(int outer, int channels, int inner, bool accumulate = false)
    {
        long length = (long)outer * channels * inner;
        return Case("bias", $"outer={outer} channels={channels} inner={inner} accumulate={accumulate}", 2.0 * length,
            c => c.Updated("y", length).In("bias", channels).In("dy", length).Out("dBias", channels, accumulated: accumulate),
            (b, t) =>
            {
                b.AddBias(t["y"], t["bias"], outer, channels, inner);
                b.BiasBackward(t["dy"], t["dBias"], outer, channels, inner, accumulate);
            });
    }

    /// <summary>
    /// Forward with its bias, data and weight gradients: each pass the same multiply-adds, one per output element, input
    /// channel and kernel tap; and the forward's add of the bias, one per output element.
    /// </summary>
    public static OpCase Conv2d(Conv2dShape s) =>
        Case("conv2d", $"B={s.Batch} in={s.InChannels} out={s.OutChannels} H={s.Height} W={s.Width} k={s.KernelSize}",
            3 * 2.0 * s.OutputLength * s.InChannels * s.KernelSize * s.KernelSize + s.OutputLength,
            c => c.In("x", s.InputLength).In("w", s.WeightLength).In("bias", s.OutChannels).In("dy", s.OutputLength)
                .Out("y", s.OutputLength).Out("dx", s.InputLength).Out("dw", s.WeightLength),
            (b, t) =>
            {
                b.Conv2dForward(t["x"], t["w"], t["bias"], t["y"], s);
                b.Conv2dBackwardData(t["dy"], t["w"], t["dx"], s);
                b.Conv2dBackwardWeight(t["x"], t["dy"], t["dw"], s);
            });

    /// <summary>
    /// With <paramref name="ties"/>, windows often hold equal maxima: the first in row-major order must win everywhere.
    /// FLOP: three compares per 2x2 window; the backward only moves values.
    /// </summary>
    public static OpCase MaxPool2d(Pool2dShape s, bool ties = false) =>
        Case("maxpool", $"planes={s.Planes} H={s.Height} W={s.Width} ties={ties}", 3.0 * s.OutputLength,
            c => c.In("x", data => ties ? data.Levels(s.InputLength, 3) : data.Uniform(s.InputLength)).In("dy", s.OutputLength)
                .Out("y", s.OutputLength).Out("dx", s.InputLength).IndexScratch("argMax", s.OutputLength),
            (b, t) =>
            {
                b.MaxPool2dForward(t["x"], t["y"], t.Indices("argMax"), s);
                b.MaxPool2dBackward(t["dy"], t.Indices("argMax"), t["dx"], s);
            });

    /// <summary>The forward gathers rows; the backward adds each gradient row into the table.</summary>
    public static OpCase Embedding(int count, int vocab, int dim) =>
        Case("embedding", $"count={count} vocab={vocab} dim={dim}", (double)count * dim,
            c => c.Indices("ids", count, vocab).In("table", (long)vocab * dim).In("dy", (long)count * dim)
                .Out("y", (long)count * dim).Out("dTable", (long)vocab * dim, accumulated: true),
            (b, t) =>
            {
                b.EmbeddingForward(t.Indices("ids"), t["table"], t["y"], count, vocab, dim);
                b.EmbeddingBackward(t.Indices("ids"), t["dy"], t["dTable"], count, vocab, dim);
            });

    /// <summary>
    /// With <paramref name="dcPrevIsDc"/>, the backward writes dcPrev over dc, as the LSTM layer calls it. FLOP per hidden
    /// unit: forward 9 (four gate functions, c = f*cPrev + i*g, tanh(c), h = o*tanh(c)), backward 17.
    /// </summary>
    public static OpCase LstmCell(int batch, int hidden, bool dcPrevIsDc)
    {
        long bh = (long)batch * hidden;
        return Case("lstm", $"batch={batch} hidden={hidden} dcPrevIsDc={dcPrevIsDc}", 26.0 * bh,
            c =>
            {
                c.In("preact", 4 * bh, -3, 3).In("cPrev", bh).In("dh", bh);
                (dcPrevIsDc ? c.Updated("dc", bh) : c.In("dc", bh)).Out("gates", 4 * bh).Out("c", bh).Out("h", bh).Out("dPreact", 4 * bh);
                return dcPrevIsDc ? c : c.Out("dcPrev", bh);
            },
            (b, t) =>
            {
                b.LstmCellForward(t["preact"], t["cPrev"], t["gates"], t["c"], t["h"], batch, hidden);
                b.LstmCellBackward(t["gates"], t["cPrev"], t["c"], t["dh"], t["dc"], t["dPreact"], t[dcPrevIsDc ? "dc" : "dcPrev"], batch, hidden);
            });
    }

    /// <summary>
    /// Forward and backward of one dropout site; <paramref name="inPlace"/> adds the aliasing the contract allows (y = x, dx = dy).
    /// FLOP per element: the compare and the product forward, the product backward.
    /// </summary>
    public static OpCase Dropout(long n, DropoutMask m, bool inPlace = false) =>
        Case(inPlace ? "dropout in place" : "dropout", System.FormattableString.Invariant($"n={n} p={m.P} seed={m.Seed} site={m.Site} step={m.Step}"), 3.0 * n,
            c => inPlace ? c.Updated("x", n).Out("mask", n).Updated("dy", n) : c.In("x", n).In("dy", n).Out("mask", n).Out("y", n).Out("dx", n),
            (b, t) =>
            {
                b.DropoutForward(t["x"], t["mask"], t[inPlace ? "x" : "y"], n, m);
                b.DropoutBackward(t["dy"], t["mask"], t[inPlace ? "dy" : "dx"], n);
            });

    /// <summary>
    /// The train-mode forward (with the running statistics' update), the backward, and the eval-mode forward, over
    /// x [outer, channels, inner]. FLOP per element: as LayerNorm's, 7 forward and 12 backward, and 4 in eval mode.
    /// </summary>
    public static OpCase BatchNorm(int outer, int channels, int inner)
    {
        long n = (long)outer * channels * inner;
        return Case("batchnorm", $"outer={outer} channels={channels} inner={inner}", 23.0 * n,
            c => c.In("x", n, -2, 3).In("weight", channels).In("bias", channels).In("dy", n)
                .Updated("runningMean", channels).Updated("runningVar", channels, 0.5, 2)
                .Out("y", n).Out("mean", channels).Out("rstd", channels).Out("dx", n).Out("dWeight", channels).Out("dBias", channels).Out("yEval", n),
            (b, t) =>
            {
                b.BatchNormTrainingForward(t["x"], t["weight"], t["bias"], t["y"], t["mean"], t["rstd"], t["runningMean"], t["runningVar"], outer, channels, inner, 1e-5, 0.1);
                b.BatchNormBackward(t["dy"], t["x"], t["weight"], t["mean"], t["rstd"], t["dx"], t["dWeight"], t["dBias"], outer, channels, inner);
                b.BatchNormEvalForward(t["x"], t["weight"], t["bias"], t["runningMean"], t["runningVar"], t["yEval"], outer, channels, inner, 1e-5);
            });
    }

    /// <summary>FLOP per hidden unit: forward 10 (three gate functions, the reset product, the blend), backward 17.</summary>
    public static OpCase GruCell(int batch, int hidden)
    {
        long bh = (long)batch * hidden;
        return Case("gru", $"batch={batch} hidden={hidden}", 27.0 * bh,
            c => c.In("gi", 3 * bh, -3, 3).In("gh", 3 * bh, -3, 3).In("hPrev", bh).In("dh", bh)
                .Out("gates", 3 * bh).Out("h", bh).Out("dGi", 3 * bh).Out("dGh", 3 * bh).Out("dhPrev", bh, accumulated: true),
            (b, t) =>
            {
                b.GruCellForward(t["gi"], t["gh"], t["hPrev"], t["gates"], t["h"], batch, hidden);
                b.GruCellBackward(t["gates"], t["gh"], t["hPrev"], t["dh"], t["dGi"], t["dGh"], t["dhPrev"], batch, hidden);
            });
    }

    /// <summary>
    /// The L1 penalty and its subgradient, then clipping by the global norm of two tensors, as a step with l1 and
    /// clip_grad_norm runs them: SumReduce of |w| into the loss, AddL1Gradient, SumReduce of the squares of both gradients,
    /// and ClipByNorm of each. <paramref name="maxNorm"/> decides whether the clip triggers. Some weights are exactly 0
    /// (sign 0). FLOP per element: 2 (abs, add), 2 (sign, multiply-add), 2 (square, add), 1 (scale).
    /// </summary>
    public static OpCase Regularisation(long n, double lambda, double maxNorm) =>
        Case("l1 and clipping", System.FormattableString.Invariant($"n={n} l1={lambda} max_norm={maxNorm}"), 7.0 * n,
            c => c.In("w", data => data.Uniform(n).Select((v, i) => i % 5 == 0 ? 0 : v).ToArray()).Updated("grad", n).Updated("grad2", n)
                .Out("loss", 1, accumulated: true).Out("normSquared", 1),
            (b, t) =>
            {
                b.SumReduce(Reduction.SumAbs, t["w"], n, t["loss"], lambda, accumulate: true);
                b.AddL1Gradient(t["w"], t["grad"], n, lambda);
                b.SumReduce(Reduction.SumSquares, t["grad"], n, t["normSquared"]);
                b.SumReduce(Reduction.SumSquares, t["grad2"], n, t["normSquared"], accumulate: true);
                b.ClipByNorm(t["grad"], n, t["normSquared"], maxNorm);
                b.ClipByNorm(t["grad2"], n, t["normSquared"], maxNorm);
            });

    /// <summary>FLOP per element: forward 7 (mean, variance, normalise, scale and shift), backward 12.</summary>
    public static OpCase LayerNorm(int rows, int cols)
    {
        long n = (long)rows * cols;
        return Case("layernorm", $"rows={rows} cols={cols}", 19.0 * n,
            c => c.In("x", n, -2, 3).In("weight", cols).In("bias", cols).In("dy", n)
                .Out("y", n).Out("mean", rows).Out("rstd", rows).Out("dx", n).Out("dWeight", cols).Out("dBias", cols),
            (b, t) =>
            {
                b.LayerNormForward(t["x"], t["weight"], t["bias"], t["y"], t["mean"], t["rstd"], rows, cols, 1e-5);
                b.LayerNormBackward(t["dy"], t["x"], t["weight"], t["mean"], t["rstd"], t["dx"], t["dWeight"], t["dBias"], rows, cols);
            });
    }

    /// <summary>The products q.k and p.v over the causal pairs (query t sees t + 1 keys), forward once and backward twice, as FlopCount counts them; the softmax is left out.</summary>
    public static OpCase Attention(AttentionShape s) =>
        Case("attention", $"B={s.Batch} T={s.T} C={s.Channels} heads={s.Heads}", 3 * 2.0 * 2 * s.Batch * s.Channels * (s.T * (s.T + 1) / 2.0),
            c => c.In("qkv", s.QkvLength, -2, 2).In("dy", s.OutputLength)
                .Out("y", s.OutputLength).Out("probabilities", s.ProbabilitiesLength).Out("dQkv", s.QkvLength),
            (b, t) =>
            {
                b.AttentionForward(t["qkv"], t["y"], t["probabilities"], s);
                b.AttentionBackward(t["dy"], t["qkv"], t["probabilities"], t["dQkv"], s);
            });

    /// <summary>
    /// Loss and dLogits in one pass. The logits are uniform in [offset - 5, offset + 5) on a grid of 1/64, which float32
    /// holds exactly up to |offset| of 2^17, so a large offset tests the kernel's max subtraction and not the rounding of
    /// its inputs. FLOP per logit: 7 (max, subtract, exp, sum, divide, subtract the target, scale).
    /// </summary>
    public static OpCase SoftmaxCrossEntropy(int rows, int classes, double offset = 0)
    {
        long n = (long)rows * classes;
        return Case("softmax cross-entropy", offset == 0 ? $"rows={rows} classes={classes}" : $"rows={rows} classes={classes} offset={offset:R}", 7.0 * n,
            c => c.In("logits", d => [.. d.Uniform(n, -5, 5).Select(v => offset + Math.Round(v * 64) / 64)]).Indices("targets", rows, classes)
                .Out("loss", 1).Out("dLogits", n),
            (b, t) => b.SoftmaxCrossEntropy(t["logits"], t.Indices("targets"), t["loss"], t["dLogits"], rows, classes));
    }

    /// <summary>
    /// <paramref name="steps"/> optimizer steps over n parameters, a fresh gradient each step; the state starts as the caller
    /// fills it. FLOP per parameter and step: the torch.optim update's formula (<see cref="UpdateFlop"/>).
    /// </summary>
    public static OpCase OptimizerSteps(OptimizerSettings s, long n, int steps = 3) => OptimizerSteps(s, [n], steps, overTensors: false);

    /// <summary>The same steps over a list of tensors of <paramref name="lengths"/>, each step one call of the multi-tensor op.</summary>
    public static OpCase OptimizerStepsOverTensors(OptimizerSettings s, long[] lengths, int steps = 3) => OptimizerSteps(s, lengths, steps, overTensors: true);

    private static OpCase OptimizerSteps(OptimizerSettings s, long[] lengths, int steps, bool overTensors)
    {
        double initial = s.Kind == OptimizerKind.Adagrad ? s.InitialAccumulatorValue : 0;
        // One tensor keeps the names of the single-tensor case; a list numbers them: param0, grads0, state0_0, ...
        string Name(string name, int k) => overTensors ? $"{name}{k}" : name;
        string StateName(int k, int i) => overTensors ? $"state{k}_{i}" : $"state{i}";
        string shape = overTensors ? $"n=[{string.Join(", ", lengths)}]" : $"n={lengths[0]}";
        return Case(overTensors ? $"{s.Kind} step over tensors" : $"{s.Kind} step", $"{shape} steps={steps} {Describe(s)}",
            (double)UpdateFlop(s.Kind) * lengths.Sum() * steps,
            c =>
            {
                for (int k = 0; k < lengths.Length; k++)
                {
                    c.Updated(Name("param", k), lengths[k]).In(Name("grads", k), steps * lengths[k]);
                    for (int i = 0; i < s.StateCount; i++)
                        c.Updated(StateName(k, i), Enumerable.Repeat(initial, checked((int)lengths[k])).ToArray());
                }
                return c;
            },
            (b, t) =>
            {
                var state = Enumerable.Range(0, lengths.Length)
                    .Select(k => Enumerable.Range(0, s.StateCount).Select(i => (DeviceView)t[StateName(k, i)]).ToArray()).ToArray();
                for (int step = 1; step <= steps; step++)
                {
                    var tensors = Enumerable.Range(0, lengths.Length)
                        .Select(k => new OptimizerTensor(t[Name("param", k)], t[Name("grads", k)].Slice((step - 1) * lengths[k], lengths[k]), state[k])).ToArray();
                    if (overTensors)
                        b.OptimizerStep(s, step, tensors);
                    else
                        b.OptimizerStep(s, step, tensors[0].Param, tensors[0].Grad, tensors[0].State);
                }
            });
    }

    // The hyper-parameters that tell the optimizer variants apart.
    private static string Describe(OptimizerSettings s) => System.FormattableString.Invariant(
        $"lr={s.LearningRate} wd={s.WeightDecay} momentum={s.Momentum} dampening={s.Dampening} nesterov={s.Nesterov} centered={s.Centered} lr_decay={s.LearningRateDecay} initial={s.InitialAccumulatorValue}");

    /// <summary>
    /// One update of one parameter: weight decay 2, then SGD 5 (momentum buffer and step), Adam and AdamW 11 (both moments,
    /// their bias corrections, the square root and the step), RMSprop 7, Adagrad 6.
    /// </summary>
    private static int UpdateFlop(OptimizerKind kind) => 2 + kind switch
    {
        OptimizerKind.Sgd => 5,
        OptimizerKind.Adam or OptimizerKind.AdamW => 11,
        OptimizerKind.RmsProp => 7,
        _ => 6,
    };

    private static OpCase Case(string op, string shape, double flop, Func<OpCheck, OpCheck> inputs, Action<Backend, OpBuffers> run) =>
        new(op, shape, flop, inputs(new OpCheck($"{op} {shape}")), run);
}
