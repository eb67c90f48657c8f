using ILGPU;
using ILGPU.Algorithms;

namespace KernelLab.Backends.Ilgpu.Kernels;

/// <summary>
/// Dropout, batch norm, and the reductions of the L1 penalty and gradient clipping. The sums of many terms (a channel's
/// statistics, a norm) are float64 and one group's, so their order is the shape's alone.
/// </summary>
internal static class TrainingKernels
{
    /// <summary>
    /// One thread per block of 4 elements: block g is Philox.Block(g, site, step low, step high) under the seed's key, and
    /// its words 0..3 decide elements 4g..4g+3 (those below n). y may be x.
    /// </summary>
    public static void DropoutForward(Index1D g, ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, long n, DropoutArgs s)
    {
        var (w0, w1, w2, w3) = Philox.Block((uint)g.X, s.Site, s.Step0, s.Step1, s.Key0, s.Key1);
        long i = 4L * g;
        Drop(x, mask, y, i, n, w0, s);
        Drop(x, mask, y, i + 1, n, w1, s);
        Drop(x, mask, y, i + 2, n, w2, s);
        Drop(x, mask, y, i + 3, n, w3, s);
    }

    private static void Drop(ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, long i, long n, uint word, DropoutArgs s)
    {
        if (i >= n)
            return;
        float m = word >= s.Threshold ? s.Scale : 0.0f;
        mask[i] = m;
        y[i] = x[i] * m;
    }

    /// <summary>Element j of channel c's outer * inner values in x [outer, channels, inner].</summary>
    private static long At(int j, int c, BatchNormArgs s) => ((long)(j / s.Inner) * s.Channels + c) * s.Inner + j % s.Inner;

    /// <summary>
    /// One group per channel: the mean, then the biased variance of the deviations (two passes, as the reference), both
    /// in float64; y, mean and rstd, and the running statistics (the unbiased variance for runningVar).
    /// </summary>
    public static void BatchNormTrainingForward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> runningMean, ArrayView<float> runningVar, BatchNormArgs s)
    {
        int c = Grid.IdxX, count = s.Outer * s.Inner;
        double sum = 0.0;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
            sum += x[At(j, c, s)];
        float mu = (float)(GroupReduce.Sum(sum) / count);
        double squares = 0.0;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            double d = x[At(j, c, s)] - mu;
            squares += d * d;
        }
        squares = GroupReduce.Sum(squares);
        float rs = (float)(1.0 / XMath.Sqrt(squares / count + s.Eps));
        float w = weight[c], b = bias[c];
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            long at = At(j, c, s);
            y[at] = (x[at] - mu) * rs * w + b;
        }
        if (Group.IsFirstThread)
        {
            mean[c] = mu;
            rstd[c] = rs;
            runningMean[c] = (float)((1.0 - s.Momentum) * runningMean[c] + s.Momentum * mu);
            runningVar[c] = (float)((1.0 - s.Momentum) * runningVar[c] + s.Momentum * (squares / (count - 1)));
        }
    }

    /// <summary>One thread per element, with the running statistics.</summary>
    public static void BatchNormEvalForward(Index1D i, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> runningMean,
        ArrayView<float> runningVar, ArrayView<float> y, BatchNormArgs s)
    {
        int c = (int)(i / s.Inner % s.Channels);
        float rs = (float)(1.0 / XMath.Sqrt(runningVar[c] + s.Eps));
        y[i] = (x[i] - runningMean[c]) * rs * weight[c] + bias[c];
    }

    /// <summary>
    /// One group per channel: dWeight = sum of dy xhat, dBias = sum of dy (in float64), then
    /// dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with dxhat = dy weight. dxhat is stored in dx by the first
    /// pass and read back by the second, as in LayerNormBackwardInput: recomputed, a GPU compiler may fuse dy * weight into
    /// the subtraction, and a channel whose xhat is all 0 would not get the reference's dx. Each thread reads back only
    /// what it wrote.
    /// </summary>
    public static void BatchNormBackward(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> dx, ArrayView<float> dWeight, ArrayView<float> dBias, BatchNormArgs s)
    {
        int c = Grid.IdxX, count = s.Outer * s.Inner;
        float mu = mean[c], rs = rstd[c], w = weight[c];
        double sumDy = 0.0, sumDyXhat = 0.0;
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            long at = At(j, c, s);
            float g = dy[at];
            dx[at] = g * w;
            sumDy += g;
            sumDyXhat += g * (x[at] - mu) * rs;
        }
        sumDy = GroupReduce.Sum(sumDy);
        sumDyXhat = GroupReduce.Sum(sumDyXhat);
        float meanDxhat = (float)(sumDy * w / count), meanDxhatXhat = (float)(sumDyXhat * w / count);
        for (int j = Group.IdxX; j < count; j += Group.DimX)
        {
            long at = At(j, c, s);
            float xhat = (x[at] - mu) * rs;
            dx[at] = rs * (dx[at] - meanDxhat - xhat * meanDxhatXhat);
        }
        if (Group.IsFirstThread)
        {
            dWeight[c] = (float)sumDyXhat;
            dBias[c] = (float)sumDy;
        }
    }

    /// <summary>result[0] = alpha * sum of |x| (squares = 0) or x^2 over n (+ result[0] when accumulating): one group.</summary>
    public static void SumReduce(ArrayView<float> x, ArrayView<float> result, int n, int squares, double alpha, int accumulate)
    {
        double sum = 0.0;
        for (int i = Group.IdxX; i < n; i += Group.DimX)
        {
            float v = x[i];
            sum += squares != 0 ? v * v : XMath.Abs(v);
        }
        sum = GroupReduce.Sum(sum);
        if (Group.IsFirstThread)
            result[0] = (float)(alpha * sum + (accumulate != 0 ? result[0] : 0.0f));
    }

    /// <summary>grad += lambda sign(param); sign is param itself where it is 0 (so +-0) or NaN, which adds nothing or NaN, as torch.sign.</summary>
    public static void AddL1Gradient(Index1D i, ArrayView<float> param, ArrayView<float> grad, float lambda)
    {
        float p = param[i];
        grad[i] += lambda * (p > 0.0f ? 1.0f : p < 0.0f ? -1.0f : p);
    }

    /// <summary>
    /// x *= clip_grad_norm_'s clamp(maxNorm / (norm + 1e-6), max=1), every thread reading the squared norm where the
    /// reduction left it, on the device; a NaN norm gives a NaN factor, as torch.clamp does.
    /// </summary>
    public static void ClipByNorm(Index1D i, ArrayView<float> x, ArrayView<float> sumSquares, double maxNorm)
    {
        double coefficient = maxNorm / (XMath.Sqrt((double)sumSquares[0]) + 1e-6);
        x[i] = (float)(x[i] * (coefficient >= 1.0 ? 1.0 : coefficient));
    }
}

/// <summary>A dropout mask's threshold, kept value and Philox counter and key words (see <see cref="DropoutMask"/>), as one kernel argument.</summary>
internal struct DropoutArgs
{
    public uint Threshold, Site, Step0, Step1, Key0, Key1;
    public float Scale;
}

/// <summary>x [outer, channels, inner] and the batch norm's eps and momentum, as one kernel argument.</summary>
internal struct BatchNormArgs
{
    public int Outer, Channels, Inner;
    public double Eps, Momentum;
}
