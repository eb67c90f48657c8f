using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace KernelLab.Backends.CpuSimd;

// Convolution as im2col + GEMM, one image per work item; max pooling.
public sealed unsafe partial class CpuSimdBackend
{
    private readonly ConvolutionJob _convJob;

    protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView y, Conv2dShape s) =>
        RunConvolution(ConvolutionPass.Forward, Ptr(x), Ptr(w), Ptr(y), s);

    protected override void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s) =>
        RunConvolution(ConvolutionPass.BackwardData, Ptr(dx), Ptr(w), Ptr(dy), s);

    protected override void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s)
    {
        long length = s.WeightLength;
        float* pdw = Ptr(dw);
        if (s.Batch == 0)
        {
            new Span<float>(pdw, (int)length).Clear();
            return;
        }
        // Each item sums the weight gradient of a fixed run of images into its own buffer; the buffers are then added
        // in item order, so the result does not depend on which thread ran what.
        int parts = RunConvolution(ConvolutionPass.BackwardWeight, Ptr(x), null, Ptr(dy), s);
        var total = new Span<float>(pdw, (int)length);
        new ReadOnlySpan<float>(_scratch[0].Partial.Get(length), (int)length).CopyTo(total);
        for (int part = 1; part < parts; part++)
            TensorPrimitives.Add(total, new ReadOnlySpan<float>(_scratch[part].Partial.Get(length), (int)length), total);
    }

    private enum ConvolutionPass
    {
        Forward,
        BackwardData,
        BackwardWeight,
    }

    /// <summary>Returns the number of work items (the weight gradient's partial sums).</summary>
    private int RunConvolution(ConvolutionPass pass, float* x, float* w, float* y, Conv2dShape s)
    {
        var job = _convJob;
        job.Pass = pass;
        job.X = x;
        job.W = w;
        job.Y = y;
        job.Shape = s;
        // The weight gradient is cut into one run of images per thread; the other passes take an image per item.
        int items = pass == ConvolutionPass.BackwardWeight ? Math.Min(Threads, s.Batch) : s.Batch;
        _pool.Run(job, items);
        return items;
    }

    /// <summary>
    /// Per image b, with columns [Cin*K*K, H*W] = im2col(x_b) and w viewed as [Cout, Cin*K*K]:
    /// forward y_b = w columns; backward-data dx_b = col2im(w^T dy_b); backward-weight dw += dy_b columns^T.
    /// x and dx share <see cref="X"/>, y and dy share <see cref="Y"/>.
    /// </summary>
    private sealed class ConvolutionJob(CpuSimdBackend backend) : ParallelJob
    {
        public ConvolutionPass Pass;
        public float* X, W, Y;
        public Conv2dShape Shape;

        public override void Execute(int item, int worker)
        {
            var s = Shape;
            var scratch = backend._scratch[worker];
            int plane = s.Height * s.Width, patch = s.InChannels * s.KernelSize * s.KernelSize;
            long inImage = (long)s.InChannels * plane, outImage = (long)s.OutChannels * plane;
            // A 1x1 kernel needs no im2col: the image is its own column matrix.
            bool direct = s.KernelSize == 1;
            switch (Pass)
            {
                case ConvolutionPass.Forward:
                {
                    float* xb = X + item * inImage;
                    float* columns = direct ? xb : scratch.Columns.Get((long)patch * plane);
                    if (!direct)
                        Im2Col(xb, columns, s);
                    Sgemm.Multiply(false, false, s.OutChannels, plane, patch, W, patch, columns, plane, Y + item * outImage, plane, 1, false, scratch);
                    break;
                }
                case ConvolutionPass.BackwardData:
                {
                    float* dxb = X + item * inImage;
                    float* columns = direct ? dxb : scratch.Columns.Get((long)patch * plane);
                    Sgemm.Multiply(true, false, patch, plane, s.OutChannels, W, patch, Y + item * outImage, plane, columns, plane, 1, false, scratch);
                    if (!direct)
                        Col2Im(columns, dxb, s);
                    break;
                }
                case ConvolutionPass.BackwardWeight:
                {
                    int parts = Math.Min(backend.Threads, s.Batch);
                    int first = (int)((long)s.Batch * item / parts), last = (int)((long)s.Batch * (item + 1) / parts);
                    float* partial = backend._scratch[item].Partial.Get((long)s.OutChannels * patch); // [Cout, Cin*K*K]
                    float* columns = direct ? null : scratch.Columns.Get((long)patch * plane);
                    for (int b = first; b < last; b++)
                    {
                        float* xb = X + b * inImage;
                        if (!direct)
                            Im2Col(xb, columns, s);
                        Sgemm.Multiply(false, true, s.OutChannels, patch, plane, Y + b * outImage, plane, direct ? xb : columns, plane,
                            partial, patch, 1, accumulate: b > first, scratch);
                    }
                    break;
                }
            }
        }
    }

    /// <summary>columns[(ci*K + kh)*K + kw, oh*W + ow] = x[ci, oh + kh - K/2, ow + kw - K/2], 0 on the padding.</summary>
    private static void Im2Col(float* x, float* columns, Conv2dShape s)
    {
        int k = s.KernelSize, pad = k / 2, height = s.Height, width = s.Width, plane = height * width;
        float* row = columns;
        for (int ci = 0; ci < s.InChannels; ci++)
        for (int kh = 0; kh < k; kh++)
        for (int kw = 0; kw < k; kw++, row += plane)
        {
            int dw = kw - pad;
            int lo = Math.Max(0, -dw), hi = Math.Min(width, width - dw);
            for (int oh = 0; oh < height; oh++)
            {
                var dst = new Span<float>(row + oh * width, width);
                int ih = oh + kh - pad;
                if (ih < 0 || ih >= height || hi <= lo)
                {
                    dst.Clear();
                    continue;
                }
                float* src = x + ((long)ci * height + ih) * width;
                dst[..lo].Clear();
                new ReadOnlySpan<float>(src + lo + dw, hi - lo).CopyTo(dst[lo..hi]);
                dst[hi..].Clear();
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: dx = 0, then every column entry is added back to the input it came from.</summary>
    private static void Col2Im(float* columns, float* dx, Conv2dShape s)
    {
        int k = s.KernelSize, pad = k / 2, height = s.Height, width = s.Width, plane = height * width;
        new Span<float>(dx, s.InChannels * plane).Clear();
        float* row = columns;
        for (int ci = 0; ci < s.InChannels; ci++)
        for (int kh = 0; kh < k; kh++)
        for (int kw = 0; kw < k; kw++, row += plane)
        {
            int dw = kw - pad;
            int lo = Math.Max(0, -dw), hi = Math.Min(width, width - dw);
            if (hi <= lo)
                continue;
            for (int oh = 0; oh < height; oh++)
            {
                int ih = oh + kh - pad;
                if (ih < 0 || ih >= height)
                    continue;
                var dst = new Span<float>(dx + ((long)ci * height + ih) * width + lo + dw, hi - lo);
                TensorPrimitives.Add(dst, new ReadOnlySpan<float>(row + oh * width + lo, hi - lo), dst);
            }
        }
    }

    protected override void MaxPool2dForwardCore(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s) =>
        ParallelFor(new MaxPoolForwardBody(Ptr(x), Ptr(y), Ptr(argMax), s), s.Planes, PlaneGrain(s));

    protected override void MaxPool2dBackwardCore(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s) =>
        ParallelFor(new MaxPoolBackwardBody(Ptr(dy), Ptr(argMax), Ptr(dx), s), s.Planes, PlaneGrain(s));

    private static long PlaneGrain(Pool2dShape s) => Math.Max(1, ElementGrain / Math.Max((long)s.Height * s.Width, 1));

    /// <summary>
    /// Planes [start, end): x [planes, H, W] to y and argMax [planes, H/2, W/2]. Each window is scanned in row-major order
    /// with a strict '>': ties go to the first maximum, and a NaN is taken, as PyTorch does. Four windows at a time with
    /// SSE (even and odd columns split by shuffles, the choice made by masks: no branch to mispredict), the rest in scalar.
    /// </summary>
    private readonly struct MaxPoolForwardBody(float* x, float* y, int* argMax, Pool2dShape s) : IRangeBody
    {
        public void Run(long start, long end)
        {
            int width = s.Width, outH = s.OutHeight, outW = s.OutWidth;
            for (long p = start; p < end; p++)
            {
                float* xp = x + p * s.Height * width;
                long o = p * outH * outW;
                for (int oh = 0; oh < outH; oh++)
                {
                    int ow = 0, rowStart = 2 * oh * width;
                    if (Sse.IsSupported)
                    {
                        float* r0 = xp + rowStart, r1 = r0 + width;
                        var lanes = Vector128.Create(0, 2, 4, 6);
                        for (; ow <= outW - 4; ow += 4, o += 4)
                        {
                            Vector128<float> a0 = Vector128.Load(r0 + 2 * ow), a1 = Vector128.Load(r0 + 2 * ow + 4);
                            Vector128<float> b0 = Vector128.Load(r1 + 2 * ow), b1 = Vector128.Load(r1 + 2 * ow + 4);
                            var best = Sse.Shuffle(a0, a1, 0x88);
                            var at = Vector128<int>.Zero;
                            Take(Sse.Shuffle(a0, a1, 0xDD), 1, ref best, ref at);
                            Take(Sse.Shuffle(b0, b1, 0x88), width, ref best, ref at);
                            Take(Sse.Shuffle(b0, b1, 0xDD), width + 1, ref best, ref at);
                            best.Store(y + o);
                            (at + lanes + Vector128.Create(rowStart + 2 * ow)).Store(argMax + o);
                        }
                    }
                    for (; ow < outW; ow++, o++)
                    {
                        int first = rowStart + 2 * ow;
                        int best = first;
                        float v = xp[first];
                        Take(xp, first + 1, ref best, ref v);
                        Take(xp, first + width, ref best, ref v);
                        Take(xp, first + width + 1, ref best, ref v);
                        y[o] = v;
                        argMax[o] = best;
                    }
                }
            }
        }

        private static void Take(Vector128<float> candidate, int offset, ref Vector128<float> best, ref Vector128<int> at)
        {
            var take = Vector128.GreaterThan(candidate, best) | ~Vector128.Equals(candidate, candidate);
            best = Vector128.ConditionalSelect(take, candidate, best);
            at = Vector128.ConditionalSelect(take.AsInt32(), Vector128.Create(offset), at);
        }

        private static void Take(float* xp, int at, ref int best, ref float v)
        {
            float candidate = xp[at];
            if (candidate > v || float.IsNaN(candidate))
            {
                best = at;
                v = candidate;
            }
        }
    }

    /// <summary>
    /// Planes [start, end) of dx: windows do not overlap, so each input takes at most one output's gradient; the rest
    /// (the floor's leftovers too) stay 0.
    /// </summary>
    private readonly struct MaxPoolBackwardBody(float* dy, int* argMax, float* dx, Pool2dShape s) : IRangeBody
    {
        public void Run(long start, long end)
        {
            long planeSize = (long)s.Height * s.Width, outPlaneSize = (long)s.OutHeight * s.OutWidth;
            new Span<float>(dx + start * planeSize, checked((int)((end - start) * planeSize))).Clear();
            for (long p = start; p < end; p++)
            {
                float* dxp = dx + p * planeSize;
                for (long j = p * outPlaneSize, last = j + outPlaneSize; j < last; j++)
                    dxp[argMax[j]] = dy[j];
            }
        }
    }
}
