using ILGPU;
using ILGPU.Algorithms;

namespace KernelLab.Backends.Ilgpu.Kernels;

/// <summary>
/// Conv2d (stride 1, zero padding K/2, NCHW) and 2x2 max pooling. x [batch, cin, h, w], w [cout, cin, K, K],
/// y [batch, cout, h, w]. Each output element is written by exactly one thread, so nothing needs clearing.
/// </summary>
internal static class ConvolutionKernels
{
    /// <summary>Consecutive output columns per thread of <see cref="ConvRows"/>.</summary>
    public const int Columns = 4;

    /// <summary>
    /// output = conv2d(input, w): one thread per <see cref="Columns"/> consecutive columns of one output row, accumulated in
    /// registers. The data gradient is the same sum through the transposed taps, dx[b, ci, ih, iw] = sum over co, kh, kw of
    /// dy[b, co, ih + kh - pad, iw + kw - pad] w[co, ci, K-1-kh, K-1-kw], so with s.Transposed set, input is dy, output
    /// is dx and the weight is read flipped and transposed.
    /// </summary>
    public static void ConvRows(Index1D idx, ArrayView<float> input, ArrayView<float> w, ArrayView<float> output, ConvShape s)
    {
        int chunks = (s.Width + Columns - 1) / Columns;
        int chunk = idx % chunks, oh = idx / chunks % s.Height, oc = idx / (chunks * s.Height) % s.OutChannels;
        int b = idx / (chunks * s.Height * s.OutChannels);
        int ow0 = chunk * Columns, pad = s.KernelSize / 2, ks = s.KernelSize;
        Float4 acc = default;
        for (int ic = 0; ic < s.InChannels; ic++)
            for (int kh = 0; kh < ks; kh++)
            {
                int ih = oh + kh - pad;
                if (ih < 0 || ih >= s.Height)
                    continue;
                long row = ((long)(b * s.InChannels + ic) * s.Height + ih) * s.Width;
                for (int kw = 0; kw < ks; kw++)
                {
                    float wv = s.Transposed != 0
                        ? w[((ic * s.OutChannels + oc) * ks + (ks - 1 - kh)) * ks + (ks - 1 - kw)]
                        : w[((oc * s.InChannels + ic) * ks + kh) * ks + kw];
                    int iw0 = ow0 + kw - pad;
                    Float4 xv;
                    xv.X = Tap(input, row, iw0, s.Width);
                    xv.Y = Tap(input, row, iw0 + 1, s.Width);
                    xv.Z = Tap(input, row, iw0 + 2, s.Width);
                    xv.W = Tap(input, row, iw0 + 3, s.Width);
                    acc.MultiplyAdd(wv, xv);
                }
            }
        long o = ((long)(b * s.OutChannels + oc) * s.Height + oh) * s.Width + ow0;
        for (int e = 0; e < Columns; e++)
            if (ow0 + e < s.Width)
                output[o + e] = acc[e];
    }

    private static float Tap(ArrayView<float> input, long row, int iw, int width) => iw >= 0 && iw < width ? input[row + iw] : 0.0f;

    /// <summary>
    /// dw: one group per weight element, reducing over batch and output positions; each thread takes whole output rows
    /// (b, oh), so the inner loop runs along a row of x and of dy.
    /// </summary>
    public static void ConvBackwardWeight(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dw, ConvShape s)
    {
        int widx = Grid.IdxX, ks = s.KernelSize;
        int kw = widx % ks, kh = widx / ks % ks, ci = widx / (ks * ks) % s.InChannels, co = widx / (ks * ks * s.InChannels);
        int dh = kh - ks / 2, dwo = kw - ks / 2; // input offset of this tap from the output position
        int owFirst = XMath.Max(0, -dwo), owEnd = XMath.Min(s.Width, s.Width - dwo);
        float sum = 0.0f;
        for (int row = Group.IdxX; row < s.Batch * s.Height; row += Group.DimX)
        {
            int b = row / s.Height, oh = row % s.Height, ih = oh + dh;
            if (ih < 0 || ih >= s.Height)
                continue;
            long xr = ((long)(b * s.InChannels + ci) * s.Height + ih) * s.Width + dwo; // x of output column ow is x[xr + ow]
            long dyr = ((long)(b * s.OutChannels + co) * s.Height + oh) * s.Width;
            for (int ow = owFirst; ow < owEnd; ow++)
                sum += x[xr + ow] * dy[dyr + ow];
        }
        sum = GroupReduce.Sum(sum);
        if (Group.IsFirstThread)
            dw[widx] = sum;
    }

    /// <summary>
    /// x [planes, h, w] to y [planes, h/2, w/2]: the first maximum of each window in row-major order (strict '&gt;'), a NaN
    /// taken, as the reference. argMax holds the position within the plane.
    /// </summary>
    public static void MaxPoolForward(Index1D idx, ArrayView<float> x, ArrayView<float> y, ArrayView<int> argMax, int height, int width)
    {
        int outHeight = height / 2, outWidth = width / 2;
        int ow = idx % outWidth, oh = idx / outWidth % outHeight, p = idx / (outWidth * outHeight);
        long plane = (long)p * height * width;
        int best = 2 * oh * width + 2 * ow;
        float bestValue = x[plane + best];
        for (int dh = 0; dh < 2; dh++)
            for (int dw = 0; dw < 2; dw++)
            {
                int at = (2 * oh + dh) * width + 2 * ow + dw;
                float v = x[plane + at];
                if (v > bestValue || XMath.IsNaN(v))
                {
                    best = at;
                    bestValue = v;
                }
            }
        y[idx] = bestValue;
        argMax[idx] = best;
    }

    /// <summary>dx: one thread per input element, which takes its window's gradient if it was the window's arg-max, else 0.</summary>
    public static void MaxPoolBackward(Index1D idx, ArrayView<float> dy, ArrayView<int> argMax, ArrayView<float> dx, int height, int width)
    {
        int outHeight = height / 2, outWidth = width / 2;
        int iw = idx % width, ih = idx / width % height, p = idx / (width * height);
        int oh = ih / 2, ow = iw / 2;
        float g = 0.0f;
        if (oh < outHeight && ow < outWidth)
        {
            int j = (p * outHeight + oh) * outWidth + ow;
            if (argMax[j] == ih * width + iw)
                g = dy[j];
        }
        dx[idx] = g;
    }
}

/// <summary>A convolution's sizes as the kernels read them (in and out swapped for the data gradient).</summary>
internal struct ConvShape
{
    public int Batch, InChannels, OutChannels, Height, Width, KernelSize, Transposed;
}
