namespace KernelLab.Backends.Reference;

// Convolution and max pooling over NCHW tensors.
public partial class ReferenceBackend
{
    protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView y, Conv2dShape s)
    {
        Span<double> sx = Span(x), sw = Span(w), sy = Span(y);
        sy[..(int)s.OutputLength].Clear();
        foreach (var (xi, wi, yi) in ConvolutionTaps(s))
            sy[yi] += sx[xi] * sw[wi];
    }

    protected override void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s)
    {
        Span<double> sdy = Span(dy), sw = Span(w), sdx = Span(dx);
        sdx[..(int)s.InputLength].Clear();
        foreach (var (xi, wi, yi) in ConvolutionTaps(s))
            sdx[xi] += sdy[yi] * sw[wi];
    }

    protected override void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s)
    {
        Span<double> sx = Span(x), sdy = Span(dy), sdw = Span(dw);
        sdw[..(int)s.WeightLength].Clear();
        foreach (var (xi, wi, yi) in ConvolutionTaps(s))
            sdw[wi] += sx[xi] * sdy[yi];
    }

    /// <summary>
    /// Every product of the convolution sum y[b, co, oh, ow] += x[b, ci, oh + kh - K/2, ow + kw - K/2] * w[co, ci, kh, kw]
    /// (cross-correlation, as PyTorch's conv2d), as the flat indices (x, w, y); taps that fall on the zero padding
    /// are left out. The three conv ops are this one geometry read in three directions, so it is written once.
    /// </summary>
    private static IEnumerable<(int X, int W, int Y)> ConvolutionTaps(Conv2dShape s)
    {
        int k = s.KernelSize, pad = k / 2, height = s.Height, width = s.Width;
        for (int b = 0; b < s.Batch; b++)
        for (int co = 0; co < s.OutChannels; co++)
        for (int oh = 0; oh < height; oh++)
        for (int ow = 0; ow < width; ow++)
        {
            int yi = ((b * s.OutChannels + co) * height + oh) * width + ow;
            for (int ci = 0; ci < s.InChannels; ci++)
            for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++)
            {
                int ih = oh + kh - pad, iw = ow + kw - pad;
                if (ih < 0 || ih >= height || iw < 0 || iw >= width)
                    continue;
                int xi = ((b * s.InChannels + ci) * height + ih) * width + iw;
                int wi = ((co * s.InChannels + ci) * k + kh) * k + kw;
                yield return (xi, wi, yi);
            }
        }
    }

    protected override void MaxPool2dForwardCore(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s)
    {
        Span<double> sx = Span(x), sy = Span(y); // x [planes, H, W]; y [planes, H/2, W/2]
        Span<int> sarg = Indices(argMax);
        int planeSize = s.Height * s.Width;
        for (int p = 0; p < s.Planes; p++)
        for (int oh = 0; oh < s.OutHeight; oh++)
        for (int ow = 0; ow < s.OutWidth; ow++)
        {
            // Row-major scan with a strict '>' from the window's first element: ties go to the first maximum, and a NaN
            // is taken (the last one), as PyTorch's CPU kernel does, so that a NaN is never hidden.
            int best = 2 * oh * s.Width + 2 * ow;
            for (int dh = 0; dh < 2; dh++)
            for (int dw = 0; dw < 2; dw++)
            {
                int at = (2 * oh + dh) * s.Width + 2 * ow + dw;
                double v = sx[p * planeSize + at];
                if (v > sx[p * planeSize + best] || double.IsNaN(v))
                    best = at;
            }
            int yi = (p * s.OutHeight + oh) * s.OutWidth + ow;
            sy[yi] = sx[p * planeSize + best];
            sarg[yi] = best;
        }
    }

    protected override void MaxPool2dBackwardCore(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s)
    {
        Span<double> sdy = Span(dy), sdx = Span(dx);
        Span<int> sarg = Indices(argMax);
        // Windows do not overlap, so each input takes at most one output's gradient; the rest, the row and column
        // the floor drops included, stay 0.
        sdx[..(int)s.InputLength].Clear();
        int planeSize = s.Height * s.Width, outPlaneSize = s.OutHeight * s.OutWidth;
        for (int p = 0; p < s.Planes; p++)
            for (int j = 0; j < outPlaneSize; j++)
                sdx[p * planeSize + sarg[p * outPlaneSize + j]] = sdy[p * outPlaneSize + j];
    }
}
