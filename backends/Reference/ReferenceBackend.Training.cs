namespace KernelLab.Backends.Reference;

// The training blocks: dropout (its mask recipe is DropoutMask's, backends/Contract/OpTypes.cs), batch norm, and the
// reductions of the L1 penalty and gradient clipping.
public partial class ReferenceBackend
{
    protected override void DropoutForwardCore(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m)
    {
        Span<double> sx = Span(x), sm = Span(mask), sy = Span(y);
        double scale = m.Scale;
        for (int i = 0; i < n; i++)
        {
            sm[i] = m.Keeps(i) ? scale : 0;
            sy[i] = sx[i] * sm[i];
        }
    }

    protected override void DropoutBackwardCore(DeviceView dy, DeviceView mask, DeviceView dx, long n)
    {
        Span<double> sdy = Span(dy), sm = Span(mask), sdx = Span(dx);
        for (int i = 0; i < n; i++)
            sdx[i] = sdy[i] * sm[i];
    }

    // Element (o, c, i) of x [outer, channels, inner].
    private static int At(int o, int c, int i, int channels, int inner) => (o * channels + c) * inner + i;

    protected override void BatchNormTrainingForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
        DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum)
    {
        Span<double> sx = Span(x), sy = Span(y), sw = Span(weight), sb = Span(bias);
        Span<double> smean = Span(mean), srstd = Span(rstd), srm = Span(runningMean), srv = Span(runningVar);
        double count = (double)outer * inner;
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                    sum += sx[At(o, c, i, channels, inner)];
            double mu = sum / count;
            double squares = 0;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    double d = sx[At(o, c, i, channels, inner)] - mu;
                    squares += d * d;
                }
            // Normalised with the biased variance; the running variance takes the unbiased one, as nn.BatchNorm does.
            double variance = squares / count;
            double rs = 1 / Math.Sqrt(variance + eps);
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    int at = At(o, c, i, channels, inner);
                    sy[at] = (sx[at] - mu) * rs * sw[c] + sb[c];
                }
            smean[c] = mu;
            srstd[c] = rs;
            srm[c] = (1 - momentum) * srm[c] + momentum * mu;
            srv[c] = (1 - momentum) * srv[c] + momentum * (squares / (count - 1));
        }
    }

    protected override void BatchNormEvalForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView runningMean, DeviceView runningVar, DeviceView y,
        int outer, int channels, int inner, double eps)
    {
        Span<double> sx = Span(x), sy = Span(y), sw = Span(weight), sb = Span(bias), srm = Span(runningMean), srv = Span(runningVar);
        for (int c = 0; c < channels; c++)
        {
            double rs = 1 / Math.Sqrt(srv[c] + eps);
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    int at = At(o, c, i, channels, inner);
                    sy[at] = (sx[at] - srm[c]) * rs * sw[c] + sb[c];
                }
        }
    }

    protected override void BatchNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias,
        int outer, int channels, int inner)
    {
        Span<double> sdy = Span(dy), sx = Span(x), sdx = Span(dx), sw = Span(weight), sdw = Span(dWeight), sdb = Span(dBias);
        Span<double> smean = Span(mean), srstd = Span(rstd);
        double count = (double)outer * inner;
        for (int c = 0; c < channels; c++)
        {
            // As LayerNorm's backward, over a channel's values instead of a row's:
            // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) with dxhat = dy * weight.
            double sumDy = 0, sumDyXhat = 0;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    int at = At(o, c, i, channels, inner);
                    sumDy += sdy[at];
                    sumDyXhat += sdy[at] * (sx[at] - smean[c]) * srstd[c];
                }
            sdw[c] = sumDyXhat;
            sdb[c] = sumDy;
            double meanDxhat = sumDy * sw[c] / count, meanDxhatXhat = sumDyXhat * sw[c] / count;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    int at = At(o, c, i, channels, inner);
                    double xhat = (sx[at] - smean[c]) * srstd[c];
                    sdx[at] = srstd[c] * (sdy[at] * sw[c] - meanDxhat - xhat * meanDxhatXhat);
                }
        }
    }

    protected override void SumReduceCore(Reduction f, DeviceView x, long n, DeviceView result, double alpha, bool accumulate)
    {
        Span<double> sx = Span(x), sr = Span(result);
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += f == Reduction.SumAbs ? Math.Abs(sx[i]) : sx[i] * sx[i];
        sr[0] = alpha * sum + (accumulate ? sr[0] : 0);
    }

    protected override void AddL1GradientCore(DeviceView param, DeviceView grad, long n, double lambda)
    {
        Span<double> sp = Span(param), sg = Span(grad);
        for (int i = 0; i < n; i++)
            sg[i] += lambda * Sign(sp[i]);
    }

    /// <summary>torch.sign: -1, 0 or 1, and NaN for NaN (Math.Sign throws on it).</summary>
    private static double Sign(double v) => v > 0 ? 1 : v < 0 ? -1 : v == 0 ? 0 : double.NaN;

    protected override void ClipByNormCore(DeviceView x, long n, DeviceView sumSquares, double maxNorm)
    {
        Span<double> sx = Span(x);
        double factor = ClipFactor(Span(sumSquares)[0], maxNorm);
        for (int i = 0; i < n; i++)
            sx[i] *= factor;
    }
}
