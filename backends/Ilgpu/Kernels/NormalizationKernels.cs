using ILGPU;
using ILGPU.Algorithms;

namespace KernelLab.Backends.Ilgpu.Kernels;

/// <summary>LayerNorm and the softmax cross-entropy loss: row reductions, one group per row (or column).</summary>
internal static class NormalizationKernels
{
    /// <summary>
    /// y = (x - mean) rstd weight + bias per row of x [rows, cols]; mean and rstd [rows] saved. Two passes (the mean, then
    /// the biased variance), as the reference.
    /// </summary>
    public static void LayerNormForward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y,
        ArrayView<float> mean, ArrayView<float> rstd, int cols, float eps)
    {
        int r = Grid.IdxX, lid = Group.IdxX, threads = Group.DimX;
        long row = (long)r * cols;
        float s = 0.0f;
        for (int j = lid; j < cols; j += threads)
            s += x[row + j];
        float mu = GroupReduce.Sum(s) / cols;
        float sq = 0.0f;
        for (int j = lid; j < cols; j += threads)
            sq += (x[row + j] - mu) * (x[row + j] - mu);
        float rs = 1.0f / XMath.Sqrt(GroupReduce.Sum(sq) / cols + eps);
        for (int j = lid; j < cols; j += threads)
            y[row + j] = (x[row + j] - mu) * rs * weight[j] + bias[j];
        if (Group.IsFirstThread)
        {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }

    /// <summary>
    /// dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) per row, xhat = (x - mean) rstd, dxhat = dy weight. dxhat is
    /// stored in dx by the first pass and read back by the second, so that the difference dxhat - mean(dxhat) is of two
    /// rounded values: recomputed, a GPU compiler may fuse dy * weight into that subtraction (an FMA keeps the product
    /// unrounded), and a row of one column would get rstd * rounding error instead of exactly 0.
    /// </summary>
    public static void LayerNormBackwardInput(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> mean,
        ArrayView<float> rstd, ArrayView<float> dx, int cols)
    {
        int r = Grid.IdxX, lid = Group.IdxX, threads = Group.DimX;
        long row = (long)r * cols;
        float mu = mean[r], rs = rstd[r];
        float sumDxhat = 0.0f, sumDxhatXhat = 0.0f;
        for (int j = lid; j < cols; j += threads)
        {
            float dxhat = dy[row + j] * weight[j];
            dx[row + j] = dxhat;
            sumDxhat += dxhat;
            sumDxhatXhat += dxhat * (x[row + j] - mu) * rs;
        }
        float meanDxhat = GroupReduce.Sum(sumDxhat) / cols;
        float meanDxhatXhat = GroupReduce.Sum(sumDxhatXhat) / cols;
        for (int j = lid; j < cols; j += threads)
        {
            float xhat = (x[row + j] - mu) * rs;
            dx[row + j] = rs * (dx[row + j] - meanDxhat - xhat * meanDxhatXhat);
        }
    }

    /// <summary>dWeight[j] = sum over rows of dy xhat, dBias[j] = sum over rows of dy: one group per column.</summary>
    public static void LayerNormBackwardParams(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> dWeight, ArrayView<float> dBias, int rows, int cols)
    {
        int j = Grid.IdxX;
        float sw = 0.0f, sb = 0.0f;
        for (int r = Group.IdxX; r < rows; r += Group.DimX)
        {
            long at = (long)r * cols + j;
            float g = dy[at];
            sw += g * (x[at] - mean[r]) * rstd[r];
            sb += g;
        }
        sw = GroupReduce.Sum(sw);
        sb = GroupReduce.Sum(sb);
        if (Group.IsFirstThread)
        {
            dWeight[j] = sw;
            dBias[j] = sb;
        }
    }

    /// <summary>
    /// Forward and backward of the loss in one pass, one group per row of logits [rows, classes]: dLogits = (softmax(logits) -
    /// onehot(target)) / rows, and rowLoss[r] = logsumexp(logits) - logits[target], taken as log(sum) - (logits[target] - max)
    /// so that it stays finite where p[target] underflows to 0 and keeps its digits where the logits are large.
    /// </summary>
    public static void SoftmaxCrossEntropy(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> rowLoss, ArrayView<float> dLogits,
        int rows, int classes)
    {
        int r = Grid.IdxX, lid = Group.IdxX, threads = Group.DimX, target = targets[r];
        long row = (long)r * classes;
        float m = float.NegativeInfinity;
        for (int j = lid; j < classes; j += threads)
            m = XMath.Max(m, logits[row + j]);
        m = GroupReduce.Max(m);
        float s = 0.0f;
        for (int j = lid; j < classes; j += threads)
            s += XMath.Exp(logits[row + j] - m);
        s = GroupReduce.Sum(s);
        for (int j = lid; j < classes; j += threads)
            dLogits[row + j] = (XMath.Exp(logits[row + j] - m) / s - (j == target ? 1.0f : 0.0f)) / rows;
        if (Group.IsFirstThread)
            rowLoss[r] = XMath.Log(s) - (logits[row + target] - m);
    }

    /// <summary>loss[0] = mean of values [n]: one group.</summary>
    public static void Mean(ArrayView<float> values, ArrayView<float> loss, int n)
    {
        float s = 0.0f;
        for (int i = Group.IdxX; i < n; i += Group.DimX)
            s += values[i];
        s = GroupReduce.Sum(s);
        if (Group.IsFirstThread)
            loss[0] = s / n;
    }
}
