using KernelLab.Backends;
using KernelLab.Backends.Reference;

namespace KernelLab.Tests;

/// <summary>
/// The reference's forward ops against values worked out independently (finite differences only show that a
/// backward matches its forward, not that the forward is the right function).
/// </summary>
public sealed class ReferenceForwardTests
{
    private readonly ReferenceBackend _r = new();

    [Fact]
    public void GemmMatchesTheProductOfTheTransposedOperands()
    {
        var data = new RandomData(21);
        const int m = 4, n = 3, k = 5;
        const double alpha = 1.5;
        foreach (bool transposeA in new[] { false, true })
        foreach (bool transposeB in new[] { false, true })
        foreach (bool accumulate in new[] { false, true })
        {
            double[] opA = data.Uniform(m * k), opB = data.Uniform(k * n), c0 = data.Uniform(m * n); // [m, k], [k, n], [m, n]
            var expected = new double[m * n];
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                for (int p = 0; p < k; p++)
                    expected[i * n + j] += alpha * opA[i * k + p] * opB[p * n + j];
                if (accumulate)
                    expected[i * n + j] += c0[i * n + j];
            }

            var c = _r.Upload(c0);
            var a = _r.Upload(transposeA ? Transpose(opA, m, k) : opA);
            var b = _r.Upload(transposeB ? Transpose(opB, k, n) : opB);
            _r.Gemm(transposeA, transposeB, m, n, k, a, b, c, alpha, accumulate);

            TensorAssert.Close($"c (transposeA {transposeA}, transposeB {transposeB}, accumulate {accumulate})", expected, _r.Download(c));
        }
    }

    [Fact]
    public void GemmWithAnEmptyInnerDimensionClearsOrKeepsC()
    {
        double[] c0 = [1, -2, 3, -4, 5, -6];
        DeviceBuffer a = _r.Allocate(0), b = _r.Allocate(0);

        var overwritten = _r.AllocatePoisoned(6);
        _r.Gemm(false, false, 2, 3, 0, a, b, overwritten);
        TensorAssert.Close("c, overwritten", new double[6], _r.Download(overwritten));

        var accumulated = _r.Upload(c0);
        _r.Gemm(false, false, 2, 3, 0, a, b, accumulated, accumulate: true);
        TensorAssert.Close("c, accumulated", c0, _r.Download(accumulated));
    }

    [Fact]
    public void AddBiasAddsEachChannelsBias()
    {
        var y = _r.Upload(new double[12]); // [outer 2, channels 3, inner 2]
        _r.AddBias(y, _r.Upload([1.0, 2, 3]), 2, 3, 2);
        TensorAssert.Close("y", [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3], _r.Download(y));
    }

    [Fact]
    public void BiasBackwardSumsOverOuterAndInnerAndCanAccumulate()
    {
        double[] dy = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]; // [outer 2, channels 3, inner 2]
        var dBias = _r.AllocatePoisoned(3);
        _r.BiasBackward(_r.Upload(dy), dBias, 2, 3, 2);
        TensorAssert.Close("dBias", [1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12], _r.Download(dBias));

        var accumulated = _r.Upload([100.0, 200, 300]);
        _r.BiasBackward(_r.Upload(dy), accumulated, 2, 3, 2, accumulate: true);
        TensorAssert.Close("dBias, accumulated", [118, 226, 334], _r.Download(accumulated));
    }

    [Theory]
    [InlineData(Activation.Relu, new[] { 0, 0, 0.5, 1, 2 })]
    [InlineData(Activation.GeluTanh, new[] { -0.15880800939172324, 0, 0.34571400982514394, 0.8411919906082768, 1.954597694087775 })]
    [InlineData(Activation.Sigmoid, new[] { 0.2689414213699951, 0.5, 0.6224593312018546, 0.7310585786300049, 0.8807970779778823 })]
    [InlineData(Activation.Tanh, new[] { -0.7615941559557649, 0, 0.46211715726000974, 0.7615941559557649, 0.9640275800758169 })]
    public void ActivationValues(Activation f, double[] expected)
    {
        // GELU values are PyTorch's F.gelu(x, approximate="tanh") in float64.
        var y = _r.AllocatePoisoned(5);
        _r.ActivationForward(f, _r.Upload([-1.0, 0, 0.5, 1, 2]), y, 5);
        TensorAssert.Close($"{f}(x)", expected, _r.Download(y));
    }

    [Fact]
    public void ReluBackwardPassesTheGradientOnlyWhereXIsPositive()
    {
        double[] x = [-1, 0, 0.5, 2];
        var dx = _r.AllocatePoisoned(4);
        _r.ActivationBackward(Activation.Relu, _r.Upload(x), _r.Upload([0.0, 0, 0.5, 2]), _r.Upload([3.0, 3, 3, 3]), dx, 4);
        TensorAssert.Close("dx", [0, 0, 3, 3], _r.Download(dx)); // 0 at x = 0, as PyTorch
    }

    [Fact]
    public void Conv2dIsACrossCorrelationWithZeroPadding()
    {
        var s = new Conv2dShape(1, 1, 1, 3, 4, 3);
        double[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]; // [3, 4]

        var centre = new double[9];
        centre[4] = 1;
        TensorAssert.Close("y, centre tap", x, Conv(x, centre, s));

        // w[0, 0] weighs x[h - 1, w - 1]: the image moves down and right, zeros come in from the padding.
        var topLeft = new double[9];
        topLeft[0] = 1;
        TensorAssert.Close("y, top-left tap", [0, 0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7], Conv(x, topLeft, s));
    }

    [Fact]
    public void Conv2dWeightIsOutByIn_AndBiasIsPerOutChannel()
    {
        // A 1x1 convolution mixes channels: y[co] = sum over ci of w[co, ci] x[ci] + bias[co], with x[ci] = ci + 1 everywhere.
        var s = new Conv2dShape(1, 2, 3, 2, 3, 1);
        double[] x = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2];
        double[] w = [0, 1, 10, 11, 20, 21]; // w[co, ci] = 10 co + ci
        double[] expected = [.. Enumerable.Repeat(2.0, 6), .. Enumerable.Repeat(32.0, 6), .. Enumerable.Repeat(62.0, 6)];
        TensorAssert.Close("y", expected, Conv(x, w, s));
        TensorAssert.Close("y with bias", [.. expected.Select((y, i) => y + (i / 6 + 1) * 0.5)], Conv(x, w, s, bias: [0.5, 1, 1.5]));
    }

    [Fact]
    public void MaxPoolTakesTheFirstOfEqualMaximaAndDropsTheOddRowAndColumn()
    {
        var s = new Pool2dShape(1, 3, 5);
        double[] x =
        [
            5, 5, 1, 7, 9,
            5, 5, 7, 0, 9,
            9, 9, 9, 9, 9,
        ];
        DeviceBuffer y = _r.AllocatePoisoned(2), dx = _r.AllocatePoisoned(15);
        var argMax = _r.AllocateIndices(2);
        _r.MaxPool2dForward(_r.Upload(x), y, argMax, s);
        _r.MaxPool2dBackward(_r.Upload([10.0, 20]), argMax, dx, s);

        TensorAssert.Close("y", [5, 7], _r.Download(y));
        // A window of four 5s routes to its top-left; the tie of 7s to the top-right, the first in row-major order.
        TensorAssert.Close("dx", [10, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], _r.Download(dx));
    }

    [Fact]
    public void EmbeddingCopiesRowsAndScatterAddsWithoutClearing()
    {
        var ids = _r.Upload([2, 0, 2]);
        var y = _r.AllocatePoisoned(6);
        _r.EmbeddingForward(ids, _r.Upload([0.0, 1, 10, 11, 20, 21]), y, 3, 3, 2);
        TensorAssert.Close("y", [20, 21, 0, 1, 20, 21], _r.Download(y));

        var dTable = _r.Upload([100.0, 100, 100, 100, 100, 100]);
        _r.EmbeddingBackward(ids, _r.Upload([1.0, 2, 3, 4, 5, 6]), dTable, 3, 3, 2);
        TensorAssert.Close("dTable", [103, 104, 100, 100, 106, 108], _r.Download(dTable));
    }

    [Fact]
    public void LstmCellFollowsPyTorchsGateOrder()
    {
        const int hidden = 2;
        double[] preact = [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8]; // [i0, i1, f0, f1, g0, g1, o0, o1]
        double[] cPrev = [0.5, -1];
        DeviceBuffer gates = _r.AllocatePoisoned(8), c = _r.AllocatePoisoned(2), h = _r.AllocatePoisoned(2);
        _r.LstmCellForward(_r.Upload(preact), _r.Upload(cPrev), gates, c, h, 1, hidden);

        static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
        double[] expectedGates = new double[8], expectedC = new double[2], expectedH = new double[2];
        for (int j = 0; j < hidden; j++)
        {
            double i = Sigmoid(preact[j]), f = Sigmoid(preact[2 + j]), g = Math.Tanh(preact[4 + j]), o = Sigmoid(preact[6 + j]);
            (expectedGates[j], expectedGates[2 + j], expectedGates[4 + j], expectedGates[6 + j]) = (i, f, g, o);
            expectedC[j] = f * cPrev[j] + i * g;
            expectedH[j] = o * Math.Tanh(expectedC[j]);
        }
        TensorAssert.Close("gates", expectedGates, _r.Download(gates));
        TensorAssert.Close("c", expectedC, _r.Download(c));
        TensorAssert.Close("h", expectedH, _r.Download(h));
    }

    [Fact]
    public void LayerNormUsesTheBiasedVariance()
    {
        const double eps = 1e-5;
        double[] x = [1, 2, 3, 4, 4, 4]; // [2, 3]; the second row has no spread
        DeviceBuffer y = _r.AllocatePoisoned(6), mean = _r.AllocatePoisoned(2), rstd = _r.AllocatePoisoned(2);
        _r.LayerNormForward(_r.Upload(x), _r.Upload([1.0, 2, 0.5]), _r.Upload([0.0, 0.25, -1]), y, mean, rstd, 2, 3, eps);

        double rs0 = 1 / Math.Sqrt(2.0 / 3 + eps), rs1 = 1 / Math.Sqrt(eps); // var of 1, 2, 3 about 2 is 2/3
        TensorAssert.Close("mean", [2, 4], _r.Download(mean));
        TensorAssert.Close("rstd", [rs0, rs1], _r.Download(rstd));
        TensorAssert.Close("y", [-rs0, 0.25, 0.5 * rs0 - 1, 0, 0.25, -1], _r.Download(y));
    }

    [Fact]
    public void AttentionOverOnePositionReturnsItsValues()
    {
        var data = new RandomData(22);
        var s = new AttentionShape(2, 1, 6, 2);
        var qkv = data.Uniform(s.QkvLength); // [2, 1, 18]
        DeviceBuffer y = _r.AllocatePoisoned(s.OutputLength), probabilities = _r.AllocatePoisoned(s.ProbabilitiesLength);
        _r.AttentionForward(_r.Upload(qkv), y, probabilities, s);

        TensorAssert.Close("y", [.. qkv[12..18], .. qkv[30..36]], _r.Download(y));
        TensorAssert.Close("probabilities", [1, 1, 1, 1], _r.Download(probabilities));
    }

    [Fact]
    public void AttentionWithZeroQueriesAveragesTheValuesUpToTheQuery()
    {
        var data = new RandomData(23);
        var s = new AttentionShape(1, 4, 4, 2);
        var qkv = data.Uniform(s.QkvLength); // [1, 4, 12]
        for (int t = 0; t < 4; t++)
            Array.Clear(qkv, t * 12, 4);
        DeviceBuffer y = _r.AllocatePoisoned(s.OutputLength), probabilities = _r.AllocatePoisoned(s.ProbabilitiesLength);
        _r.AttentionForward(_r.Upload(qkv), y, probabilities, s);

        // Every visible score is 0, so query t spreads 1/(t+1) over keys 0..t and exactly 0 over the later ones.
        var expectedY = new double[16];
        var expectedP = new double[2 * 16];
        for (int t = 0; t < 4; t++)
        {
            for (int u = 0; u <= t; u++)
            {
                for (int f = 0; f < 4; f++)
                    expectedY[t * 4 + f] += qkv[u * 12 + 8 + f] / (t + 1);
                expectedP[t * 4 + u] = expectedP[16 + t * 4 + u] = 1.0 / (t + 1);
            }
        }
        TensorAssert.Close("y", expectedY, _r.Download(y));
        TensorAssert.Close("probabilities", expectedP, _r.Download(probabilities), tolerance: 0);
    }

    [Fact]
    public void AttentionScoresAreScaledDotProductsWithinEachHead()
    {
        // B = 1, T = 2, C = 4, two heads of 2: position t holds q [0, 4), k [4, 8), v [8, 12).
        var s = new AttentionShape(1, 2, 4, 2);
        double[] qkv =
        [
            0.1, 0.2, 0.3, 0.4,  0.5, -0.6, 0.7, 0.8,  1, 2, 3, 4,
            0.9, -1.0, 1.1, 1.2,  -1.3, 1.4, 1.5, -1.6,  5, 6, 7, 8,
        ];
        DeviceBuffer y = _r.AllocatePoisoned(s.OutputLength), probabilities = _r.AllocatePoisoned(s.ProbabilitiesLength);
        _r.AttentionForward(_r.Upload(qkv), y, probabilities, s);

        // Query 1 of each head against keys 0 and 1, scaled by 1/sqrt(2).
        double head0Key0 = (0.9 * 0.5 + -1.0 * -0.6) / Math.Sqrt(2), head0Key1 = (0.9 * -1.3 + -1.0 * 1.4) / Math.Sqrt(2);
        double head1Key0 = (1.1 * 0.7 + 1.2 * 0.8) / Math.Sqrt(2), head1Key1 = (1.1 * 1.5 + 1.2 * -1.6) / Math.Sqrt(2);
        double p0 = 1 / (1 + Math.Exp(head0Key1 - head0Key0)), p1 = 1 / (1 + Math.Exp(head1Key1 - head1Key0));
        TensorAssert.Close("probabilities", [1, 0, p0, 1 - p0, 1, 0, p1, 1 - p1], _r.Download(probabilities));
        TensorAssert.Close("y",
            [1, 2, 3, 4, p0 * 1 + (1 - p0) * 5, p0 * 2 + (1 - p0) * 6, p1 * 3 + (1 - p1) * 7, p1 * 4 + (1 - p1) * 8],
            _r.Download(y));
    }

    [Fact]
    public void SoftmaxCrossEntropyOfUniformLogitsIsLogClasses()
    {
        const int rows = 3, classes = 7;
        DeviceBuffer loss = _r.AllocatePoisoned(1), dLogits = _r.AllocatePoisoned(rows * classes);
        _r.SoftmaxCrossEntropy(_r.Upload(Enumerable.Repeat(0.3, rows * classes).ToArray()), _r.Upload([0, 6, 3]), loss, dLogits, rows, classes);
        TensorAssert.Close("loss", [Math.Log(classes)], _r.Download(loss));
        var expected = Enumerable.Repeat(1.0 / classes / rows, rows * classes).ToArray();
        expected[0] -= 1.0 / rows;
        expected[classes + 6] -= 1.0 / rows;
        expected[2 * classes + 3] -= 1.0 / rows;
        TensorAssert.Close("dLogits", expected, _r.Download(dLogits));
    }

    [Fact]
    public void SoftmaxCrossEntropyStaysFiniteForLargeLogits()
    {
        // Row 1's target has probability e^-1000, which underflows: the loss must still be 1000 for that row.
        DeviceBuffer loss = _r.AllocatePoisoned(1), dLogits = _r.AllocatePoisoned(6);
        _r.SoftmaxCrossEntropy(_r.Upload([1000.0, 0, -1000, 0, 1000, 0]), _r.Upload([0, 2]), loss, dLogits, 2, 3);
        TensorAssert.Close("loss", [500], _r.Download(loss));
        TensorAssert.Close("dLogits", [0, 0, 0, 0, 0.5, -0.5], _r.Download(dLogits));
    }

    [Fact]
    public void SoftmaxCrossEntropyGradientIsProbabilitiesMinusOneHotOverRows()
    {
        // Logits [0, 0] and [0, ln 3] give probabilities [1/2, 1/2] and [1/4, 3/4].
        DeviceBuffer loss = _r.AllocatePoisoned(1), dLogits = _r.AllocatePoisoned(4);
        _r.SoftmaxCrossEntropy(_r.Upload([0.0, 0, 0, Math.Log(3)]), _r.Upload([1, 0]), loss, dLogits, 2, 2);
        TensorAssert.Close("loss", [(Math.Log(2) + Math.Log(4)) / 2], _r.Download(loss));
        TensorAssert.Close("dLogits", [0.25, -0.25, -0.375, 0.375], _r.Download(dLogits));
    }

    private double[] Conv(double[] x, double[] w, Conv2dShape s, double[]? bias = null)
    {
        var y = _r.AllocatePoisoned(s.OutputLength);
        _r.Conv2dForward(_r.Upload(x), _r.Upload(w), _r.Upload(bias ?? new double[s.OutChannels]), y, s);
        return _r.Download(y);
    }

    private static double[] Transpose(double[] x, int rows, int cols)
    {
        var t = new double[x.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                t[j * rows + i] = x[i * cols + j];
        return t;
    }
}
