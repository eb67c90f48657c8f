using System.Buffers;

namespace KernelLab.Backends;

/// <summary>
/// The backend contract: device memory, synchronize, a timer, device info, and the op set that the four
/// network families need, forward and backward. All tensors are row-major and contiguous.
///
/// Each public op checks its arguments once, here, and calls the backend's <c>...Core</c> method, so a
/// backend implements only the arithmetic. Ops are asynchronous with respect to the host on devices that
/// queue work; <see cref="CopyOut(DeviceView, Span{float})"/> and <see cref="Synchronize"/> wait for it.
///
/// Unless an op says otherwise, outputs are overwritten (never read) and must not overlap inputs.
/// Host scalars (fill values, alpha, eps) are double so that a float64 backend uses them exactly; a
/// float32 backend rounds them once.
/// </summary>
public abstract class Backend : IDisposable
{
    /// <summary>The registry name (<c>reference</c>, <c>cpu-simd</c>, ...).</summary>
    public abstract string Name { get; }

    public abstract DeviceInfo Info { get; }

    public Precision Precision => Info.Precision;

    // ---------------------------------------------------------------- memory

    /// <summary>Allocates <paramref name="length"/> real numbers; contents are unspecified.</summary>
    public DeviceBuffer Allocate(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        CheckLength(length, "a buffer");
        return AllocateCore(length);
    }

    /// <summary>Allocates <paramref name="length"/> int32 indices; contents are unspecified.</summary>
    public DeviceIndexBuffer AllocateIndices(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        CheckLength(length, "an index buffer");
        return AllocateIndicesCore(length);
    }

    /// <summary>The one element-count check, with the message built only for a length past it.</summary>
    private void CheckLength(long length, string buffer)
    {
        if (length > TensorLength.Max)
            TensorLength.Check($"{Name}: {buffer}", length);
    }

    /// <summary>
    /// Bytes that new buffers can take now, what a network's memory plan is checked against before anything is
    /// allocated: the host's available memory for a device that is the host CPU, else the device's memory (a backend
    /// whose driver reports free memory overrides this with it).
    /// </summary>
    public virtual long AvailableMemoryBytes => Info.Kind == "cpu" ? HostMemory.AvailableBytes() : Info.MemoryBytes;

    public void CopyIn(DeviceView destination, ReadOnlySpan<float> source)
    {
        RequireLength(destination, source.Length, nameof(destination));
        CopyInCore(destination, source);
    }

    public void CopyIn(DeviceView destination, ReadOnlySpan<double> source)
    {
        RequireLength(destination, source.Length, nameof(destination));
        CopyInCore(destination, source);
    }

    public void CopyIn(DeviceIndexBuffer destination, ReadOnlySpan<int> source)
    {
        RequireOwned(destination.Owner, nameof(destination));
        if (destination.Length != source.Length)
            throw new ArgumentException($"{nameof(destination)} holds {destination.Length} indices, source has {source.Length}");
        CopyInCore(destination, source);
    }

    /// <summary>Copies device data to the host, waiting for queued work that writes it.</summary>
    public void CopyOut(DeviceView source, Span<float> destination)
    {
        RequireLength(source, destination.Length, nameof(source));
        CopyOutCore(source, destination);
    }

    public void CopyOut(DeviceView source, Span<double> destination)
    {
        RequireLength(source, destination.Length, nameof(source));
        CopyOutCore(source, destination);
    }

    /// <summary>Waits until all queued work has finished.</summary>
    public abstract void Synchronize();

    /// <summary>A timer that reads the device's own clock where it has one.</summary>
    public abstract IDeviceTimer CreateTimer();

    /// <summary>A recorder for a training step that runs many times (<see cref="StepGraph"/>); the default runs the step's ops as they come.</summary>
    public virtual StepGraph CreateStepGraph() => new();

    // ---------------------------------------------------------------- element-wise

    /// <summary>y = value everywhere in <paramref name="y"/>.</summary>
    public void Fill(DeviceView y, double value)
    {
        RequireOwned(y.Buffer.Owner, nameof(y));
        FillCore(y, value);
    }

    /// <summary>y = a + b over n elements. y may be a or b (residual connections, gradient sums).</summary>
    public void Add(DeviceView a, DeviceView b, DeviceView y, long n)
    {
        Require(a, n, nameof(a));
        Require(b, n, nameof(b));
        Require(y, n, nameof(y));
        AddCore(a, b, y, n);
    }

    /// <summary>y = f(x) over n elements. y may be x.</summary>
    public void ActivationForward(Activation f, DeviceView x, DeviceView y, long n)
    {
        Require(x, n, nameof(x));
        Require(y, n, nameof(y));
        ActivationForwardCore(f, x, y, n);
    }

    /// <summary>dx = f'(x) * dy over n elements, given the forward's input x and output y. dx may be dy.</summary>
    public void ActivationBackward(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n)
    {
        Require(x, n, nameof(x));
        Require(y, n, nameof(y));
        Require(dy, n, nameof(dy));
        Require(dx, n, nameof(dx));
        ActivationBackwardCore(f, x, y, dy, dx, n);
    }

    // ---------------------------------------------------------------- dropout

    /// <summary>
    /// mask = the <see cref="DropoutMask"/>'s scale where it keeps an element and 0 where it drops one; y = x * mask, over n
    /// elements. y may be x. Every backend draws the same mask (<see cref="DropoutMask"/> gives the recipe).
    /// </summary>
    public void DropoutForward(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m)
    {
        if (!(m.P >= 0 && m.P < 1))
            throw new ArgumentOutOfRangeException(nameof(m), m.P, "dropout p must be in [0, 1)");
        Require(x, n, nameof(x));
        Require(mask, n, nameof(mask));
        Require(y, n, nameof(y));
        DropoutForwardCore(x, mask, y, n, m);
    }

    /// <summary>dx = dy * mask over n elements, with the forward's mask. dx may be dy.</summary>
    public void DropoutBackward(DeviceView dy, DeviceView mask, DeviceView dx, long n)
    {
        Require(dy, n, nameof(dy));
        Require(mask, n, nameof(mask));
        Require(dx, n, nameof(dx));
        DropoutBackwardCore(dy, mask, dx, n);
    }

    // ---------------------------------------------------------------- GEMM and bias

    /// <summary>
    /// c[m, n] = alpha * op(a) op(b) (+ c when <paramref name="accumulate"/>), where op(a) is [m, k]
    /// (a is stored [m, k], or [k, m] when <paramref name="transposeA"/>) and op(b) is [k, n]
    /// (b is stored [k, n], or [n, k] when <paramref name="transposeB"/>).
    /// </summary>
    public void Gemm(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, double alpha = 1, bool accumulate = false)
    {
        RequireNonNegative(m, n, k);
        Require(a, (long)m * k, nameof(a));
        Require(b, (long)k * n, nameof(b));
        Require(c, (long)m * n, nameof(c));
        GemmCore(transposeA, transposeB, m, n, k, a, b, c, alpha, accumulate);
    }

    /// <summary>y[o, c, i] += bias[c] for y [outer, channels, inner] (inner = 1 for a linear layer, H*W for a convolution).</summary>
    public void AddBias(DeviceView y, DeviceView bias, int outer, int channels, int inner)
    {
        RequireNonNegative(outer, channels, inner);
        Require(y, (long)outer * channels * inner, nameof(y));
        Require(bias, channels, nameof(bias));
        AddBiasCore(y, bias, outer, channels, inner);
    }

    /// <summary>dBias[c] = sum over o, i of dy[o, c, i] (+ dBias when <paramref name="accumulate"/>).</summary>
    public void BiasBackward(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate = false)
    {
        RequireNonNegative(outer, channels, inner);
        Require(dy, (long)outer * channels * inner, nameof(dy));
        Require(dBias, channels, nameof(dBias));
        BiasBackwardCore(dy, dBias, outer, channels, inner, accumulate);
    }

    // ---------------------------------------------------------------- convolution and pooling

    /// <summary>y[b, co] = conv2d(x, w)[b, co] + bias[co], stride 1, zero padding k/2, for bias [outC] (nn.Conv2d's forward).</summary>
    public void Conv2dForward(DeviceView x, DeviceView w, DeviceView bias, DeviceView y, Conv2dShape s)
    {
        RequireConv(s);
        Require(x, s.InputLength, nameof(x));
        Require(w, s.WeightLength, nameof(w));
        Require(bias, s.OutChannels, nameof(bias));
        Require(y, s.OutputLength, nameof(y));
        Conv2dForwardCore(x, w, bias, y, s);
    }

    /// <summary>dx = gradient of conv2d with respect to its input.</summary>
    public void Conv2dBackwardData(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s)
    {
        RequireConv(s);
        Require(dy, s.OutputLength, nameof(dy));
        Require(w, s.WeightLength, nameof(w));
        Require(dx, s.InputLength, nameof(dx));
        Conv2dBackwardDataCore(dy, w, dx, s);
    }

    /// <summary>dw = gradient of conv2d with respect to its weight.</summary>
    public void Conv2dBackwardWeight(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s)
    {
        RequireConv(s);
        Require(x, s.InputLength, nameof(x));
        Require(dy, s.OutputLength, nameof(dy));
        Require(dw, s.WeightLength, nameof(dw));
        Conv2dBackwardWeightCore(x, dy, dw, s);
    }

    /// <summary>
    /// y = 2x2 max pool of x; argMax[j] is the position (h * Width + w, within its plane) of the input that
    /// y[j] took: the first maximum in row-major order, as PyTorch picks it.
    /// </summary>
    public void MaxPool2dForward(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s)
    {
        RequireNonNegative(s.Planes, s.Height, s.Width);
        Require(x, s.InputLength, nameof(x));
        Require(y, s.OutputLength, nameof(y));
        Require(argMax, s.OutputLength, nameof(argMax));
        MaxPool2dForwardCore(x, y, argMax, s);
    }

    /// <summary>dx = dy routed to each window's arg-max; every other element of dx (rows and columns the floor drops included) is 0.</summary>
    public void MaxPool2dBackward(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s)
    {
        RequireNonNegative(s.Planes, s.Height, s.Width);
        Require(dy, s.OutputLength, nameof(dy));
        Require(argMax, s.OutputLength, nameof(argMax));
        Require(dx, s.InputLength, nameof(dx));
        MaxPool2dBackwardCore(dy, argMax, dx, s);
    }

    // ---------------------------------------------------------------- embedding

    /// <summary>y[i, :] = table[ids[i], :] for i &lt; count; table [vocab, dim], y [count, dim]. Ids are in [0, vocab) (checked on the host when a batch is loaded).</summary>
    public void EmbeddingForward(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim)
    {
        RequireNonNegative(count, vocab, dim);
        Require(ids, count, nameof(ids));
        Require(table, (long)vocab * dim, nameof(table));
        Require(y, (long)count * dim, nameof(y));
        EmbeddingForwardCore(ids, table, y, count, vocab, dim);
    }

    /// <summary>dTable[ids[i], :] += dy[i, :] (scatter-add: dTable is read, so clear it first).</summary>
    public void EmbeddingBackward(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim)
    {
        RequireNonNegative(count, vocab, dim);
        Require(ids, count, nameof(ids));
        Require(dy, (long)count * dim, nameof(dy));
        Require(dTable, (long)vocab * dim, nameof(dTable));
        EmbeddingBackwardCore(ids, dy, dTable, count, vocab, dim);
    }

    // ---------------------------------------------------------------- LSTM cell

    /// <summary>
    /// One LSTM time step after the gate pre-activations are summed. preact [batch, 4*hidden] in PyTorch's
    /// gate order i, f, g, o; cPrev, c, h [batch, hidden]; gates [batch, 4*hidden] receives the activated
    /// gates (sigmoid, sigmoid, tanh, sigmoid) for the backward pass. c = f*cPrev + i*g, h = o*tanh(c).
    /// </summary>
    public void LstmCellForward(DeviceView preact, DeviceView cPrev, DeviceView gates, DeviceView c, DeviceView h, int batch, int hidden)
    {
        RequireNonNegative(batch, hidden);
        long bh = (long)batch * hidden;
        Require(preact, 4 * bh, nameof(preact));
        Require(cPrev, bh, nameof(cPrev));
        Require(gates, 4 * bh, nameof(gates));
        Require(c, bh, nameof(c));
        Require(h, bh, nameof(h));
        LstmCellForwardCore(preact, cPrev, gates, c, h, batch, hidden);
    }

    /// <summary>
    /// Backward of <see cref="LstmCellForward"/>. dh is the full gradient of h (from the output and from the
    /// next step), dc the gradient of c from the next step. Writes dPreact [batch, 4*hidden] and
    /// dcPrev [batch, hidden]; dcPrev may be dc.
    /// </summary>
    public void LstmCellBackward(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden)
    {
        RequireNonNegative(batch, hidden);
        long bh = (long)batch * hidden;
        Require(gates, 4 * bh, nameof(gates));
        Require(cPrev, bh, nameof(cPrev));
        Require(c, bh, nameof(c));
        Require(dh, bh, nameof(dh));
        Require(dc, bh, nameof(dc));
        Require(dPreact, 4 * bh, nameof(dPreact));
        Require(dcPrev, bh, nameof(dcPrev));
        LstmCellBackwardCore(gates, cPrev, c, dh, dc, dPreact, dcPrev, batch, hidden);
    }

    // ---------------------------------------------------------------- GRU cell

    /// <summary>
    /// One GRU time step after both projections: gi = x W_ih^T + b_ih and gh = hPrev W_hh^T + b_hh, each [batch, 3*hidden]
    /// in PyTorch's gate order r, z, n. r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
    /// h = (1 - z) * n + z * hPrev (nn.GRU's formula, b_hn inside the reset product). gates [batch, 3*hidden] receives r, z, n.
    /// </summary>
    public void GruCellForward(DeviceView gi, DeviceView gh, DeviceView hPrev, DeviceView gates, DeviceView h, int batch, int hidden)
    {
        RequireNonNegative(batch, hidden);
        long bh = (long)batch * hidden;
        Require(gi, 3 * bh, nameof(gi));
        Require(gh, 3 * bh, nameof(gh));
        Require(hPrev, bh, nameof(hPrev));
        Require(gates, 3 * bh, nameof(gates));
        Require(h, bh, nameof(h));
        GruCellForwardCore(gi, gh, hPrev, gates, h, batch, hidden);
    }

    /// <summary>
    /// Backward of <see cref="GruCellForward"/>, given its gates, gh and hPrev and dh, the full gradient of h. Writes dGi and dGh
    /// [batch, 3*hidden], the gradients of gi and gh (they differ in the n block only: dGh_n = dGi_n * r), and adds the
    /// direct part z * dh into dhPrev [batch, hidden] (dhPrev is read: the recurrent product dGh W_hh is the caller's).
    /// dhPrev must not overlap dh.
    /// </summary>
    public void GruCellBackward(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden)
    {
        RequireNonNegative(batch, hidden);
        long bh = (long)batch * hidden;
        Require(gates, 3 * bh, nameof(gates));
        Require(gh, 3 * bh, nameof(gh));
        Require(hPrev, bh, nameof(hPrev));
        Require(dh, bh, nameof(dh));
        Require(dGi, 3 * bh, nameof(dGi));
        Require(dGh, 3 * bh, nameof(dGh));
        Require(dhPrev, bh, nameof(dhPrev));
        GruCellBackwardCore(gates, gh, hPrev, dh, dGi, dGh, dhPrev, batch, hidden);
    }

    // ---------------------------------------------------------------- LayerNorm

    /// <summary>y = (x - mean) * rstd * weight + bias per row of x [rows, cols]; saves mean and rstd [rows] (rstd = 1/sqrt(var + eps), biased var).</summary>
    public void LayerNormForward(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, double eps)
    {
        RequireNonNegative(rows, cols);
        long n = (long)rows * cols;
        Require(x, n, nameof(x));
        Require(weight, cols, nameof(weight));
        Require(bias, cols, nameof(bias));
        Require(y, n, nameof(y));
        Require(mean, rows, nameof(mean));
        Require(rstd, rows, nameof(rstd));
        LayerNormForwardCore(x, weight, bias, y, mean, rstd, rows, cols, eps);
    }

    /// <summary>Writes dx [rows, cols], dWeight and dBias [cols] from dy and the forward's saved mean and rstd.</summary>
    public void LayerNormBackward(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols)
    {
        RequireNonNegative(rows, cols);
        long n = (long)rows * cols;
        Require(dy, n, nameof(dy));
        Require(x, n, nameof(x));
        Require(weight, cols, nameof(weight));
        Require(mean, rows, nameof(mean));
        Require(rstd, rows, nameof(rstd));
        Require(dx, n, nameof(dx));
        Require(dWeight, cols, nameof(dWeight));
        Require(dBias, cols, nameof(dBias));
        LayerNormBackwardCore(dy, x, weight, mean, rstd, dx, dWeight, dBias, rows, cols);
    }

    // ---------------------------------------------------------------- batch norm

    /// <summary>
    /// nn.BatchNorm1d/2d in train mode over x [outer, channels, inner] (inner = 1 for 1d, H*W for 2d): per channel, the mean
    /// and the biased variance of its outer*inner values; y = (x - mean) * rstd * weight + bias with rstd = 1/sqrt(var + eps),
    /// mean and rstd [channels] saved for the backward. The running statistics are updated in place:
    /// running = (1 - momentum) * running + momentum * statistic, with the unbiased variance (var * count / (count - 1)) for
    /// runningVar. count = outer * inner must be at least 2, as PyTorch requires.
    /// </summary>
    public void BatchNormTrainingForward(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
        DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum)
    {
        RequireBatchNorm(x, weight, outer, channels, inner);
        Require(bias, channels, nameof(bias));
        if ((long)outer * inner < 2)
            throw new ArgumentException($"batch norm in train mode needs more than 1 value per channel, got {(long)outer * inner}");
        Require(y, (long)outer * channels * inner, nameof(y));
        Require(mean, channels, nameof(mean));
        Require(rstd, channels, nameof(rstd));
        Require(runningMean, channels, nameof(runningMean));
        Require(runningVar, channels, nameof(runningVar));
        BatchNormTrainingForwardCore(x, weight, bias, y, mean, rstd, runningMean, runningVar, outer, channels, inner, eps, momentum);
    }

    /// <summary>nn.BatchNorm in eval mode: y = (x - runningMean) / sqrt(runningVar + eps) * weight + bias, per channel.</summary>
    public void BatchNormEvalForward(DeviceView x, DeviceView weight, DeviceView bias, DeviceView runningMean, DeviceView runningVar, DeviceView y,
        int outer, int channels, int inner, double eps)
    {
        RequireBatchNorm(x, weight, outer, channels, inner);
        Require(bias, channels, nameof(bias));
        Require(runningMean, channels, nameof(runningMean));
        Require(runningVar, channels, nameof(runningVar));
        Require(y, (long)outer * channels * inner, nameof(y));
        BatchNormEvalForwardCore(x, weight, bias, runningMean, runningVar, y, outer, channels, inner, eps);
    }

    /// <summary>Backward of <see cref="BatchNormTrainingForward"/>: writes dx, dWeight and dBias [channels] from dy and the saved mean and rstd.</summary>
    public void BatchNormBackward(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias,
        int outer, int channels, int inner)
    {
        RequireBatchNorm(x, weight, outer, channels, inner);
        long n = (long)outer * channels * inner;
        Require(dy, n, nameof(dy));
        Require(mean, channels, nameof(mean));
        Require(rstd, channels, nameof(rstd));
        Require(dx, n, nameof(dx));
        Require(dWeight, channels, nameof(dWeight));
        Require(dBias, channels, nameof(dBias));
        BatchNormBackwardCore(dy, x, weight, mean, rstd, dx, dWeight, dBias, outer, channels, inner);
    }

    // ---------------------------------------------------------------- attention

    /// <summary>
    /// Causal multi-head self-attention. For head h, q, k and v are features [h*hd, (h+1)*hd) of the q, k
    /// and v thirds of qkv; scores q.k / sqrt(hd), masked to key &lt;= query, softmaxed into probabilities
    /// (masked entries 0); y = probabilities . v, heads side by side.
    /// </summary>
    public void AttentionForward(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s)
    {
        RequireAttention(s);
        Require(qkv, s.QkvLength, nameof(qkv));
        Require(y, s.OutputLength, nameof(y));
        Require(probabilities, s.ProbabilitiesLength, nameof(probabilities));
        AttentionForwardCore(qkv, y, probabilities, s);
    }

    /// <summary>Writes dQkv from dy and the forward's qkv and probabilities.</summary>
    public void AttentionBackward(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s)
    {
        RequireAttention(s);
        Require(dy, s.OutputLength, nameof(dy));
        Require(qkv, s.QkvLength, nameof(qkv));
        Require(probabilities, s.ProbabilitiesLength, nameof(probabilities));
        Require(dQkv, s.QkvLength, nameof(dQkv));
        AttentionBackwardCore(dy, qkv, probabilities, dQkv, s);
    }

    // ---------------------------------------------------------------- loss

    /// <summary>
    /// Forward and backward of the loss in one pass, as llm.c's fused classifier: with p = softmax(logits) per row of
    /// logits [rows, classes], loss [1] = mean over rows of -log p[r, targets[r]] and dLogits [rows, classes] =
    /// (p - onehot(targets)) / rows, the gradient of the mean loss. Targets are in [0, classes); dLogits is not logits.
    /// </summary>
    public void SoftmaxCrossEntropy(DeviceView logits, DeviceIndexBuffer targets, DeviceView loss, DeviceView dLogits, int rows, int classes)
    {
        RequireNonNegative(rows, classes);
        Require(logits, (long)rows * classes, nameof(logits));
        Require(targets, rows, nameof(targets));
        Require(loss, 1, nameof(loss));
        Require(dLogits, (long)rows * classes, nameof(dLogits));
        SoftmaxCrossEntropyCore(logits, targets, loss, dLogits, rows, classes);
    }

    // ---------------------------------------------------------------- regularisation and clipping

    /// <summary>
    /// result[0] = alpha * sum of f(x[i]) over n elements (+ result[0] when <paramref name="accumulate"/>), f = |x| or x^2 as
    /// <paramref name="f"/> says, summed in an order fixed by n alone (no atomics), so a rerun gives the same bits.
    /// </summary>
    public void SumReduce(Reduction f, DeviceView x, long n, DeviceView result, double alpha = 1, bool accumulate = false)
    {
        Require(x, n, nameof(x));
        Require(result, 1, nameof(result));
        SumReduceCore(f, x, n, result, alpha, accumulate);
    }

    /// <summary>grad += lambda * sign(param) over n elements, sign(0) = 0: the subgradient of lambda * sum |param|.</summary>
    public void AddL1Gradient(DeviceView param, DeviceView grad, long n, double lambda)
    {
        Require(param, n, nameof(param));
        Require(grad, n, nameof(grad));
        AddL1GradientCore(param, grad, n, lambda);
    }

    /// <summary>
    /// x *= min(1, maxNorm / (sqrt(sumSquares[0]) + 1e-6)) over n elements, with the squared global norm read on the device
    /// (torch.nn.utils.clip_grad_norm_'s scaling; a factor of 1 leaves x as it is).
    /// </summary>
    public void ClipByNorm(DeviceView x, long n, DeviceView sumSquares, double maxNorm)
    {
        if (!(maxNorm > 0))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "max_norm must be positive");
        Require(x, n, nameof(x));
        Require(sumSquares, 1, nameof(sumSquares));
        ClipByNormCore(x, n, sumSquares, maxNorm);
    }

    /// <summary>
    /// <see cref="ClipByNorm"/>'s factor, for a backend that reads the squared norm on the host: clamp(max_norm / (norm + 1e-6),
    /// max=1), written so that a NaN norm gives a NaN factor, as torch.clamp does (a min() would give 1 and hide it).
    /// </summary>
    protected static double ClipFactor(double sumSquares, double maxNorm)
    {
        double coefficient = maxNorm / (Math.Sqrt(sumSquares) + 1e-6);
        return coefficient >= 1 ? 1 : coefficient;
    }

    // ---------------------------------------------------------------- optimizers

    /// <summary>
    /// One torch.optim update of param from grad, in place, for optimizer step <paramref name="step"/>
    /// (1 for the first). <paramref name="state"/> holds <see cref="OptimizerSettings.StateCount"/> views
    /// of param's length (in the order listed there), zeroed before the first step (Adagrad's sum is filled with
    /// <see cref="OptimizerSettings.InitialAccumulatorValue"/> instead); grad is not changed. The update arithmetic is
    /// float64 whatever the storage precision: it is memory-bound, so this costs nothing, and in float32 a parameter
    /// whose update cancels (p close to lr * g) loses the digits the 1e-4 rule of MODELS.md asks for.
    /// </summary>
    public void OptimizerStep(OptimizerSettings settings, int step, DeviceView param, DeviceView grad, ReadOnlySpan<DeviceView> state)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        RequireOptimizerTensor(settings, param, grad, state);
        OptimizerStepCore(settings, step, param, grad, state);
    }

    /// <summary>
    /// The update of <see cref="OptimizerStep(OptimizerSettings, int, DeviceView, DeviceView, ReadOnlySpan{DeviceView})"/> for
    /// every tensor of <paramref name="tensors"/>, with the same checks and the same arithmetic: what a backend may do in one
    /// launch (apex's multi_tensor_apply). The tensors do not overlap.
    /// </summary>
    public void OptimizerStep(OptimizerSettings settings, int step, ReadOnlySpan<OptimizerTensor> tensors)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        foreach (var t in tensors)
            RequireOptimizerTensor(settings, t.Param, t.Grad, t.State);
        OptimizerStepCore(settings, step, tensors);
    }

    private void RequireOptimizerTensor(OptimizerSettings settings, DeviceView param, DeviceView grad, ReadOnlySpan<DeviceView> state)
    {
        long n = param.Length;
        RequireOwned(param.Buffer.Owner, nameof(param));
        Require(grad, n, nameof(grad));
        if (state.Length != settings.StateCount)
            throw new ArgumentException($"{settings.Kind} keeps {settings.StateCount} state tensors, {state.Length} given");
        foreach (var s in state)
            Require(s, n, nameof(state));
    }

    private void OptimizerStepCore(OptimizerSettings settings, int step, DeviceView param, DeviceView grad, ReadOnlySpan<DeviceView> state)
    {
        switch (settings.Kind)
        {
            case OptimizerKind.Sgd: SgdStepCore(settings, step, param, grad, state[0]); break;
            case OptimizerKind.Adam:
            case OptimizerKind.AdamW: AdamStepCore(settings, step, param, grad, state[0], state[1]); break;
            case OptimizerKind.RmsProp: RmsPropStepCore(settings, param, grad, state[0], state[1], state[2]); break;
            case OptimizerKind.Adagrad: AdagradStepCore(settings, step, param, grad, state[0]); break;
            default: throw new ArgumentOutOfRangeException(nameof(settings));
        }
    }

    public abstract void Dispose();

    // ---------------------------------------------------------------- what a backend implements

    protected abstract DeviceBuffer AllocateCore(long length);
    protected abstract DeviceIndexBuffer AllocateIndicesCore(long length);
    protected abstract void CopyInCore(DeviceView destination, ReadOnlySpan<float> source);
    /// <summary>A float32 backend takes float64 data rounded once, through a pooled staging array; a float64 backend overrides this.</summary>
    protected virtual void CopyInCore(DeviceView destination, ReadOnlySpan<double> source)
    {
        float[] staging = ArrayPool<float>.Shared.Rent(source.Length);
        try
        {
            for (int i = 0; i < source.Length; i++)
                staging[i] = (float)source[i];
            CopyInCore(destination, staging.AsSpan(0, source.Length));
        }
        finally
        {
            ArrayPool<float>.Shared.Return(staging);
        }
    }
    protected abstract void CopyInCore(DeviceIndexBuffer destination, ReadOnlySpan<int> source);
    protected abstract void CopyOutCore(DeviceView source, Span<float> destination);
    /// <summary>A float32 backend's data widened to float64 through a pooled staging array; a float64 backend overrides this.</summary>
    protected virtual void CopyOutCore(DeviceView source, Span<double> destination)
    {
        float[] staging = ArrayPool<float>.Shared.Rent(destination.Length);
        try
        {
            CopyOutCore(source, staging.AsSpan(0, destination.Length));
            for (int i = 0; i < destination.Length; i++)
                destination[i] = staging[i];
        }
        finally
        {
            ArrayPool<float>.Shared.Return(staging);
        }
    }
    protected abstract void FillCore(DeviceView y, double value);
    protected abstract void AddCore(DeviceView a, DeviceView b, DeviceView y, long n);
    protected abstract void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n);
    protected abstract void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n);
    protected abstract void DropoutForwardCore(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m);
    protected abstract void DropoutBackwardCore(DeviceView dy, DeviceView mask, DeviceView dx, long n);
    protected abstract void GemmCore(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, double alpha, bool accumulate);
    protected abstract void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner);
    protected abstract void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate);
    protected abstract void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView y, Conv2dShape s);

    /// <summary>The forward with its bias: by default the convolution, then <see cref="AddBiasCore"/> over its planes.</summary>
    protected virtual void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView bias, DeviceView y, Conv2dShape s)
    {
        Conv2dForwardCore(x, w, y, s);
        AddBiasCore(y, bias, s.Batch, s.OutChannels, s.Height * s.Width);
    }

    protected abstract void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s);
    protected abstract void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s);
    protected abstract void MaxPool2dForwardCore(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s);
    protected abstract void MaxPool2dBackwardCore(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s);
    protected abstract void EmbeddingForwardCore(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim);
    protected abstract void EmbeddingBackwardCore(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim);
    protected abstract void LstmCellForwardCore(DeviceView preact, DeviceView cPrev, DeviceView gates, DeviceView c, DeviceView h, int batch, int hidden);
    protected abstract void LstmCellBackwardCore(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden);
    protected abstract void GruCellForwardCore(DeviceView gi, DeviceView gh, DeviceView hPrev, DeviceView gates, DeviceView h, int batch, int hidden);
    protected abstract void GruCellBackwardCore(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden);
    protected abstract void LayerNormForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, double eps);
    protected abstract void LayerNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols);
    protected abstract void BatchNormTrainingForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
        DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum);
    protected abstract void BatchNormEvalForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView runningMean, DeviceView runningVar, DeviceView y,
        int outer, int channels, int inner, double eps);
    protected abstract void BatchNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias,
        int outer, int channels, int inner);
    protected abstract void AttentionForwardCore(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s);
    protected abstract void AttentionBackwardCore(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s);
    protected abstract void SoftmaxCrossEntropyCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView loss, DeviceView dLogits, int rows, int classes);
    protected abstract void SumReduceCore(Reduction f, DeviceView x, long n, DeviceView result, double alpha, bool accumulate);
    protected abstract void AddL1GradientCore(DeviceView param, DeviceView grad, long n, double lambda);
    protected abstract void ClipByNormCore(DeviceView x, long n, DeviceView sumSquares, double maxNorm);
    protected abstract void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer);
    protected abstract void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq);
    protected abstract void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg);
    protected abstract void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum);

    /// <summary>The multi-tensor step, checked: by default the single-tensor update of each tensor in turn, for a backend that gains nothing from one launch.</summary>
    protected virtual void OptimizerStepCore(OptimizerSettings s, int step, ReadOnlySpan<OptimizerTensor> tensors)
    {
        foreach (var t in tensors)
            OptimizerStepCore(s, step, t.Param, t.Grad, t.State);
    }

    // ---------------------------------------------------------------- argument checks, written once

    private void RequireOwned(Backend owner, string name)
    {
        if (!ReferenceEquals(owner, this))
            throw new ArgumentException($"{name} belongs to backend '{owner.Name}', not '{Name}'", name);
    }

    private void RequireLength(DeviceView view, long length, string name)
    {
        RequireOwned(view.Buffer.Owner, name);
        if (view.Length != length)
            throw new ArgumentException($"{name} has {view.Length} elements, the host span {length}", name);
    }

    private void Require(DeviceView view, long needed, string name)
    {
        RequireOwned(view.Buffer.Owner, name);
        if (view.Length < needed)
            throw new ArgumentException($"{name} has {view.Length} elements, the op needs {needed}", name);
    }

    private void Require(DeviceIndexBuffer buffer, long needed, string name)
    {
        RequireOwned(buffer.Owner, name);
        if (buffer.Length < needed)
            throw new ArgumentException($"{name} has {buffer.Length} indices, the op needs {needed}", name);
    }

    private static void RequireNonNegative(params ReadOnlySpan<int> sizes)
    {
        foreach (int size in sizes)
            ArgumentOutOfRangeException.ThrowIfNegative(size);
    }

    private static void RequireConv(Conv2dShape s)
    {
        RequireNonNegative(s.Batch, s.InChannels, s.OutChannels, s.Height, s.Width);
        if (s.KernelSize < 1 || s.KernelSize % 2 == 0)
            throw new ArgumentException($"kernel size {s.KernelSize} is not a positive odd number");
    }

    private void RequireBatchNorm(DeviceView x, DeviceView weight, int outer, int channels, int inner)
    {
        RequireNonNegative(outer, channels, inner);
        Require(x, (long)outer * channels * inner, nameof(x));
        Require(weight, channels, nameof(weight));
    }

    private static void RequireAttention(AttentionShape s)
    {
        RequireNonNegative(s.Batch, s.T, s.Channels);
        if (s.Heads < 1 || s.Channels % s.Heads != 0)
            throw new ArgumentException($"{s.Heads} heads do not divide {s.Channels} channels");
    }
}
