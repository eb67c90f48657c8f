using KernelLab.Backends;
using KernelLab.Backends.Reference;

namespace KernelLab.Tests;

/// <summary>
/// The reference's backward ops against central finite differences of its forward ops, in float64, on every
/// input element: L = sum over outputs of R ⊙ output for a random R, so the analytic gradient is the backward
/// op applied to R. Tensors are tiny, so that every element can be perturbed.
/// </summary>
public sealed class ReferenceFiniteDifferenceTests
{
    private const double Step = 1e-6;

    private readonly ReferenceBackend _r = new();

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(true, true, false)]
    [InlineData(false, false, true)]
    [InlineData(true, false, true)]
    [InlineData(false, true, true)]
    [InlineData(true, true, true)]
    public void Gemm(bool transposeA, bool transposeB, bool accumulate)
    {
        var data = new RandomData(1);
        const int m = 3, n = 4, k = 5;
        const double alpha = 0.75;
        double[] a = data.Uniform(m * k), b = data.Uniform(k * n), c0 = data.Uniform(m * n);
        double[][] Forward()
        {
            var c = _r.Upload(c0);
            _r.Gemm(transposeA, transposeB, m, n, k, _r.Upload(a), _r.Upload(b), c, alpha, accumulate);
            return [_r.Download(c)];
        }

        var r = RandomLike(data, Forward());
        DeviceBuffer dc = _r.Upload(r[0]), da = _r.AllocatePoisoned(m * k), db = _r.AllocatePoisoned(k * n);
        // dA = alpha dC op(B)^T and dB = alpha op(A)^T dC, each stored the way its operand is: the linear layer's backward.
        if (transposeA)
            _r.Gemm(transposeB, true, k, m, n, _r.Upload(b), dc, da, alpha);
        else
            _r.Gemm(false, !transposeB, m, k, n, dc, _r.Upload(b), da, alpha);
        if (transposeB)
            _r.Gemm(true, transposeA, n, k, m, dc, _r.Upload(a), db, alpha);
        else
            _r.Gemm(!transposeA, false, k, n, m, _r.Upload(a), dc, db, alpha);

        AssertGradients(Forward, r,
            ("a", a, _r.Download(da)),
            ("b", b, _r.Download(db)),
            ("c", c0, accumulate ? r[0] : new double[m * n]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Bias(int inner)
    {
        var data = new RandomData(2);
        const int outer = 2, channels = 3;
        double[] y0 = data.Uniform(outer * channels * inner), bias = data.Uniform(channels);
        double[][] Forward()
        {
            var y = _r.Upload(y0);
            _r.AddBias(y, _r.Upload(bias), outer, channels, inner);
            return [_r.Download(y)];
        }

        var r = RandomLike(data, Forward());
        var dBias = _r.AllocatePoisoned(channels);
        _r.BiasBackward(_r.Upload(r[0]), dBias, outer, channels, inner);

        AssertGradients(Forward, r, ("y", y0, r[0]), ("bias", bias, _r.Download(dBias)));
    }

    [Theory]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.GeluTanh)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Tanh)]
    public void ActivationFunction(Activation f)
    {
        var data = new RandomData(3);
        const int n = 24;
        double[] x = data.AwayFromZero(n, gap: 0.05);
        for (int i = 0; i < n; i++)
            x[i] *= 3; // reach the tails of GELU, sigmoid and tanh
        double[][] Forward()
        {
            var y = _r.Upload(x);
            _r.ActivationForward(f, y, y, n); // y may be x
            return [_r.Download(y)];
        }

        var r = RandomLike(data, Forward());
        var dy = _r.Upload(r[0]);
        _r.ActivationBackward(f, _r.Upload(x), _r.Upload(Forward()[0]), dy, dy, n); // dx may be dy

        AssertGradients(Forward, r, ("x", x, _r.Download(dy)));
    }

    [Theory]
    [InlineData(1, 1, 1, 3, 5, 1)]
    [InlineData(2, 2, 3, 3, 5, 3)]
    [InlineData(1, 2, 2, 1, 5, 3)]
    [InlineData(2, 1, 2, 5, 1, 5)]
    [InlineData(1, 2, 1, 3, 4, 5)]
    public void Conv2d(int batch, int inChannels, int outChannels, int height, int width, int kernelSize)
    {
        var data = new RandomData(4);
        var s = new Conv2dShape(batch, inChannels, outChannels, height, width, kernelSize);
        double[] x = data.Uniform(s.InputLength), w = data.Uniform(s.WeightLength), bias = data.Uniform(outChannels);
        double[][] Forward()
        {
            var y = _r.AllocatePoisoned(s.OutputLength);
            _r.Conv2dForward(_r.Upload(x), _r.Upload(w), _r.Upload(bias), y, s);
            return [_r.Download(y)];
        }

        var r = RandomLike(data, Forward());
        DeviceBuffer dy = _r.Upload(r[0]), dx = _r.AllocatePoisoned(s.InputLength), dw = _r.AllocatePoisoned(s.WeightLength);
        var dBias = _r.AllocatePoisoned(outChannels);
        _r.Conv2dBackwardData(dy, _r.Upload(w), dx, s);
        _r.Conv2dBackwardWeight(_r.Upload(x), dy, dw, s);
        _r.BiasBackward(dy, dBias, batch, outChannels, height * width); // the layer's bias gradient

        AssertGradients(Forward, r, ("x", x, _r.Download(dx)), ("w", w, _r.Download(dw)), ("bias", bias, _r.Download(dBias)));
    }

    [Theory]
    [InlineData(2, 5, 7)]
    [InlineData(1, 3, 2)]
    [InlineData(2, 4, 3)]
    [InlineData(1, 1, 4)]
    public void MaxPool2d(int planes, int height, int width)
    {
        var data = new RandomData(5);
        var s = new Pool2dShape(planes, height, width);
        // Distinct values 0.01 apart: no window holds a tie that a perturbation of 1e-6 could flip.
        double[] x = data.Distinct(s.InputLength, spacing: 0.01);
        var argMax = _r.AllocateIndices(s.OutputLength);
        double[][] Forward()
        {
            var y = _r.AllocatePoisoned(s.OutputLength);
            _r.MaxPool2dForward(_r.Upload(x), y, argMax, s);
            return [_r.Download(y)];
        }

        var r = RandomLike(data, Forward());
        var dx = _r.AllocatePoisoned(s.InputLength);
        _r.MaxPool2dBackward(_r.Upload(r[0]), argMax, dx, s);

        AssertGradients(Forward, r, ("x", x, _r.Download(dx)));
    }

    [Fact]
    public void Embedding()
    {
        var data = new RandomData(6);
        const int vocab = 5, dim = 3;
        int[] ids = [2, 0, 2, 4, 2, 1]; // 2 three times, 3 never
        double[] table = data.Uniform(vocab * dim);
        double[][] Forward()
        {
            var y = _r.AllocatePoisoned(ids.Length * dim);
            _r.EmbeddingForward(_r.Upload(ids), _r.Upload(table), y, ids.Length, vocab, dim);
            return [_r.Download(y)];
        }

        var r = RandomLike(data, Forward());
        var dTable = _r.Upload(new double[vocab * dim]);
        _r.EmbeddingBackward(_r.Upload(ids), _r.Upload(r[0]), dTable, ids.Length, vocab, dim);

        AssertGradients(Forward, r, ("table", table, _r.Download(dTable)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LstmCell(bool dcPrevIsDc)
    {
        var data = new RandomData(7);
        const int batch = 2, hidden = 3;
        double[] preact = data.Uniform(batch * 4 * hidden, -2, 2), cPrev = data.Uniform(batch * hidden);
        DeviceBuffer gates = _r.AllocatePoisoned(batch * 4 * hidden), c = _r.AllocatePoisoned(batch * hidden), h = _r.AllocatePoisoned(batch * hidden);
        double[][] Forward()
        {
            _r.LstmCellForward(_r.Upload(preact), _r.Upload(cPrev), gates, c, h, batch, hidden);
            return [_r.Download(c), _r.Download(h)];
        }

        // The loss reads both c (as the next step would, through dc) and h.
        var r = RandomLike(data, Forward());
        DeviceBuffer dc = _r.Upload(r[0]), dPreact = _r.AllocatePoisoned(batch * 4 * hidden);
        var dcPrev = dcPrevIsDc ? dc : _r.AllocatePoisoned(batch * hidden);
        _r.LstmCellBackward(gates, _r.Upload(cPrev), c, _r.Upload(r[1]), dc, dPreact, dcPrev, batch, hidden);

        AssertGradients(Forward, r, ("preact", preact, _r.Download(dPreact)), ("cPrev", cPrev, _r.Download(dcPrev)));
    }

    [Theory]
    [InlineData(3, 5)]
    [InlineData(2, 7)]
    [InlineData(1, 1)]
    public void LayerNorm(int rows, int cols)
    {
        var data = new RandomData(8);
        double[] x = data.Uniform(rows * cols), weight = data.Uniform(cols), bias = data.Uniform(cols);
        DeviceBuffer mean = _r.AllocatePoisoned(rows), rstd = _r.AllocatePoisoned(rows);
        double[][] Forward()
        {
            var y = _r.AllocatePoisoned(rows * cols);
            _r.LayerNormForward(_r.Upload(x), _r.Upload(weight), _r.Upload(bias), y, mean, rstd, rows, cols, 1e-5f);
            return [_r.Download(y)];
        }

        var r = RandomLike(data, Forward());
        DeviceBuffer dx = _r.AllocatePoisoned(rows * cols), dWeight = _r.AllocatePoisoned(cols), dBias = _r.AllocatePoisoned(cols);
        _r.LayerNormBackward(_r.Upload(r[0]), _r.Upload(x), _r.Upload(weight), mean, rstd, dx, dWeight, dBias, rows, cols);

        AssertGradients(Forward, r,
            ("x", x, _r.Download(dx)),
            ("weight", weight, _r.Download(dWeight)),
            ("bias", bias, _r.Download(dBias)));
    }

    [Theory]
    [InlineData(1, 1, 4, 1)]
    [InlineData(2, 1, 6, 2)]
    [InlineData(1, 4, 4, 1)]
    [InlineData(2, 3, 6, 3)]
    public void Attention(int batch, int t, int channels, int heads)
    {
        var data = new RandomData(9);
        var s = new AttentionShape(batch, t, channels, heads);
        double[] qkv = data.Uniform(s.QkvLength);
        var probabilities = _r.AllocatePoisoned(s.ProbabilitiesLength);
        double[][] Forward()
        {
            var y = _r.AllocatePoisoned(s.OutputLength);
            _r.AttentionForward(_r.Upload(qkv), y, probabilities, s);
            return [_r.Download(y)];
        }

        var r = RandomLike(data, Forward());
        var dQkv = _r.AllocatePoisoned(s.QkvLength);
        _r.AttentionBackward(_r.Upload(r[0]), _r.Upload(qkv), probabilities, dQkv, s);

        AssertGradients(Forward, r, ("qkv", qkv, _r.Download(dQkv)));
    }

    [Theory]
    [InlineData(3, 4)]
    [InlineData(5, 2)]
    [InlineData(1, 1)]
    public void SoftmaxCrossEntropy(int rows, int classes)
    {
        var data = new RandomData(10);
        double[] logits = data.Uniform(rows * classes, -3, 3);
        var targets = _r.Upload(data.Indices(rows, classes));
        var dLogits = _r.AllocatePoisoned(rows * classes);
        double[][] Forward()
        {
            var loss = _r.AllocatePoisoned(1);
            _r.SoftmaxCrossEntropy(_r.Upload(logits), targets, loss, dLogits, rows, classes);
            return [_r.Download(loss)];
        }

        var r = RandomLike(data, Forward());
        // dLogits is the gradient of the loss itself, written by the same pass; L weighs the loss by r.
        var analytic = _r.Download(dLogits).Select(g => g * r[0][0]).ToArray();

        AssertGradients(Forward, r, ("logits", logits, analytic));
    }

    private static double[][] RandomLike(RandomData data, double[][] outputs) =>
        outputs.Select(o => data.Uniform(o.Length)).ToArray();

    /// <summary>
    /// For each input: perturbs every element by ±<see cref="Step"/>, takes the central difference of
    /// L = sum(r ⊙ forward()), and compares it with the analytic gradient. forward reads the inputs as they are now.
    /// </summary>
    private static void AssertGradients(Func<double[][]> forward, double[][] r, params (string Name, double[] Input, double[] Analytic)[] inputs)
    {
        double Loss()
        {
            double sum = 0;
            var outputs = forward();
            for (int o = 0; o < outputs.Length; o++)
                for (int i = 0; i < outputs[o].Length; i++)
                    sum += r[o][i] * outputs[o][i];
            return sum;
        }

        foreach (var (name, input, analytic) in inputs)
        {
            var numeric = new double[input.Length];
            for (int i = 0; i < input.Length; i++)
            {
                double saved = input[i];
                input[i] = saved + Step;
                double plus = Loss();
                input[i] = saved - Step;
                double minus = Loss();
                input[i] = saved;
                numeric[i] = (plus - minus) / (2 * Step);
            }
            TensorAssert.Close($"d{name}", numeric, analytic, TensorComparison.Float64Tolerance);
        }
    }
}
