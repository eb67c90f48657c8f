using KernelLab.Backends;
using KernelLab.Backends.Conformance;
using KernelLab.Backends.Reference;

namespace KernelLab.Suites;

/// <summary>
/// The reference backend, noting the op case (backends/Conformance) of every op it runs inside <see cref="Record"/>:
/// the ops, shapes and aliasing that the layers of models/ call, read from the calls themselves. Each op still runs,
/// so that the layers see the values a training step computes.
/// </summary>
public sealed class OpRecorder : ReferenceBackend
{
    private Action<Func<OpCase>>? _note; // null outside Record

    /// <summary>
    /// Runs <paramref name="work"/> and returns the distinct op cases it called (by name), in the order of first use, each
    /// with how many of the contract's calls noted it (a forward and its backward note the same case).
    /// </summary>
    public IReadOnlyList<RecordedCase> Record(Action work)
    {
        var index = new Dictionary<string, int>();
        var cases = new List<RecordedCase>();
        _note = opCase =>
        {
            var c = opCase();
            if (index.TryGetValue(c.Name, out int i))
                cases[i] = cases[i] with { Calls = cases[i].Calls + 1 };
            else
            {
                index[c.Name] = cases.Count;
                cases.Add(new RecordedCase(c, 1));
            }
        };
        try
        {
            work();
        }
        finally
        {
            _note = null;
        }
        return cases;
    }

    /// <summary>How many times one training step runs <paramref name="opCase"/>, of which the step made <paramref name="calls"/> calls that note it:
    /// a case whose run is a forward and its backward is noted twice by each run.</summary>
    public double RunsPerStep(OpCase opCase, int calls)
    {
        using var buffers = opCase.Inputs.Allocate(this);
        int perRun = Record(() => opCase.Run(this, buffers)).Single(c => c.Case.Name == opCase.Name).Calls;
        return (double)calls / perRun;
    }

    // A case is built only while recording: it draws its random inputs when it is made.
    private void Note(Func<OpCase> opCase) => _note?.Invoke(opCase);

    /// <summary>Notes nothing until it is disposed: for the ops that the reference runs one op of the contract as.</summary>
    private Unnoted NothingNoted()
    {
        var quiet = new Unnoted(this, _note);
        _note = null;
        return quiet;
    }

    private readonly struct Unnoted(OpRecorder recorder, Action<Func<OpCase>>? note) : IDisposable
    {
        public void Dispose() => recorder._note = note;
    }

    protected override void FillCore(DeviceView y, double value)
    {
        Note(() => OpCases.Fill(checked((int)y.Length)));
        base.FillCore(y, value);
    }

    // y = b, which the contract allows too, has no case of its own: it is checked as the plain form.
    protected override void AddCore(DeviceView a, DeviceView b, DeviceView y, long n)
    {
        Note(() => OpCases.Add(n, intoA: y == a));
        base.AddCore(a, b, y, n);
    }

    protected override void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n)
    {
        Note(() => OpCases.Activation(f, n, inPlace: y == x));
        base.ActivationForwardCore(f, x, y, n);
    }

    protected override void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n)
    {
        Note(() => OpCases.Activation(f, n, inPlace: dx == dy));
        base.ActivationBackwardCore(f, x, y, dy, dx, n);
    }

    protected override void GemmCore(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, double alpha, bool accumulate)
    {
        Note(() => OpCases.Gemm(m, n, k, transposeA, transposeB, accumulate, alpha));
        base.GemmCore(transposeA, transposeB, m, n, k, a, b, c, alpha, accumulate);
    }

    protected override void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner)
    {
        Note(() => OpCases.Bias(outer, channels, inner));
        base.AddBiasCore(y, bias, outer, channels, inner);
    }

    protected override void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate)
    {
        Note(() => OpCases.Bias(outer, channels, inner, accumulate));
        base.BiasBackwardCore(dy, dBias, outer, channels, inner, accumulate);
    }

    // The forward with its bias is one op (one kernel on the cuda backend): its AddBias is no bias case of the layer's.
    protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView bias, DeviceView y, Conv2dShape s)
    {
        Note(() => OpCases.Conv2d(s));
        using (NothingNoted())
            base.Conv2dForwardCore(x, w, bias, y, s);
    }

    protected override void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s)
    {
        Note(() => OpCases.Conv2d(s));
        base.Conv2dBackwardDataCore(dy, w, dx, s);
    }

    protected override void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s)
    {
        Note(() => OpCases.Conv2d(s));
        base.Conv2dBackwardWeightCore(x, dy, dw, s);
    }

    protected override void MaxPool2dForwardCore(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s)
    {
        Note(() => OpCases.MaxPool2d(s));
        base.MaxPool2dForwardCore(x, y, argMax, s);
    }

    protected override void MaxPool2dBackwardCore(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s)
    {
        Note(() => OpCases.MaxPool2d(s));
        base.MaxPool2dBackwardCore(dy, argMax, dx, s);
    }

    protected override void EmbeddingForwardCore(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim)
    {
        Note(() => OpCases.Embedding(count, vocab, dim));
        base.EmbeddingForwardCore(ids, table, y, count, vocab, dim);
    }

    protected override void EmbeddingBackwardCore(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim)
    {
        Note(() => OpCases.Embedding(count, vocab, dim));
        base.EmbeddingBackwardCore(ids, dy, dTable, count, vocab, dim);
    }

    // The cell's case runs forward and backward; which one it is (dcPrev written over dc or not) only the backward shows.
    protected override void LstmCellBackwardCore(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden)
    {
        Note(() => OpCases.LstmCell(batch, hidden, dcPrevIsDc: dcPrev == dc));
        base.LstmCellBackwardCore(gates, cPrev, c, dh, dc, dPreact, dcPrev, batch, hidden);
    }

    protected override void LayerNormForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, double eps)
    {
        Note(() => OpCases.LayerNorm(rows, cols));
        base.LayerNormForwardCore(x, weight, bias, y, mean, rstd, rows, cols, eps);
    }

    protected override void LayerNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols)
    {
        Note(() => OpCases.LayerNorm(rows, cols));
        base.LayerNormBackwardCore(dy, x, weight, mean, rstd, dx, dWeight, dBias, rows, cols);
    }

    protected override void AttentionForwardCore(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s)
    {
        Note(() => OpCases.Attention(s));
        base.AttentionForwardCore(qkv, y, probabilities, s);
    }

    protected override void AttentionBackwardCore(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s)
    {
        Note(() => OpCases.Attention(s));
        base.AttentionBackwardCore(dy, qkv, probabilities, dQkv, s);
    }

    protected override void SoftmaxCrossEntropyCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView loss, DeviceView dLogits, int rows, int classes)
    {
        Note(() => OpCases.SoftmaxCrossEntropy(rows, classes));
        base.SoftmaxCrossEntropyCore(logits, targets, loss, dLogits, rows, classes);
    }

    // Dropout's case runs forward and backward; the mask is the forward's.
    protected override void DropoutForwardCore(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m)
    {
        Note(() => OpCases.Dropout(n, m, inPlace: y == x));
        base.DropoutForwardCore(x, mask, y, n, m);
    }

    protected override void GruCellBackwardCore(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden)
    {
        Note(() => OpCases.GruCell(batch, hidden));
        base.GruCellBackwardCore(gates, gh, hPrev, dh, dGi, dGh, dhPrev, batch, hidden);
    }

    // Batch norm's case runs the train-mode forward, the backward and the eval-mode forward.
    protected override void BatchNormTrainingForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
        DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum)
    {
        Note(() => OpCases.BatchNorm(outer, channels, inner));
        base.BatchNormTrainingForwardCore(x, weight, bias, y, mean, rstd, runningMean, runningVar, outer, channels, inner, eps, momentum);
    }

    // The L1 and clipping case runs both at one length: noted from the subgradient with its lambda and a bound that never
    // clips, and from the clip with its bound and no L1 term, so that each row's settings are the step's own.
    protected override void AddL1GradientCore(DeviceView param, DeviceView grad, long n, double lambda)
    {
        Note(() => OpCases.Regularisation(n, lambda, maxNorm: double.PositiveInfinity));
        base.AddL1GradientCore(param, grad, n, lambda);
    }

    protected override void ClipByNormCore(DeviceView x, long n, DeviceView sumSquares, double maxNorm)
    {
        Note(() => OpCases.Regularisation(n, lambda: 0, maxNorm));
        base.ClipByNormCore(x, n, sumSquares, maxNorm);
    }

    // A training step updates every parameter in one call: one case of the list's lengths, without a case per tensor for the
    // single-tensor updates the reference runs it as.
    protected override void OptimizerStepCore(OptimizerSettings s, int step, ReadOnlySpan<OptimizerTensor> tensors)
    {
        long[] lengths = new long[tensors.Length];
        for (int i = 0; i < tensors.Length; i++)
            lengths[i] = tensors[i].Param.Length;
        Note(() => OpCases.OptimizerStepsOverTensors(s, lengths, steps: 1));
        using (NothingNoted())
            base.OptimizerStepCore(s, step, tensors);
    }

    // Each single-tensor update is one step of one parameter tensor.
    protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer)
    {
        Note(() => OpCases.OptimizerSteps(s, param.Length, steps: 1));
        base.SgdStepCore(s, step, param, grad, momentumBuffer);
    }

    protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq)
    {
        Note(() => OpCases.OptimizerSteps(s, param.Length, steps: 1));
        base.AdamStepCore(s, step, param, grad, expAvg, expAvgSq);
    }

    protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg)
    {
        Note(() => OpCases.OptimizerSteps(s, param.Length, steps: 1));
        base.RmsPropStepCore(s, param, grad, squareAvg, momentumBuffer, gradAvg);
    }

    protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum)
    {
        Note(() => OpCases.OptimizerSteps(s, param.Length, steps: 1));
        base.AdagradStepCore(s, step, param, grad, stateSum);
    }
}

/// <summary>An op case that a recorded piece of work called, and how many of the contract's calls noted it.</summary>
public sealed record RecordedCase(OpCase Case, int Calls);
