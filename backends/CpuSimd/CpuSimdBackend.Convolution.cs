using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;

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
        int patch = s.InChannels * s.KernelSize * s.KernelSize, length = s.OutChannels * patch;
        var total = new Span<float>(Ptr(dw), length); // [Cout, Cin*K*K]
        if (s.Batch == 0)
        {
            total.Clear();
            return;
        }
        // Each item sums the weight gradient of a fixed run of images into its own buffer; the buffers are then added
        // in item order, so the result does not depend on which thread ran what.
        bool transposed = WeightGradientTransposed(s);
        int parts = RunConvolution(ConvolutionPass.BackwardWeight, Ptr(x), null, Ptr(dy), s);
        var sum = new Span<float>(_scratch[0].Partial.Get(length), length);
        for (int part = 1; part < parts; part++)
            TensorPrimitives.Add(sum, new ReadOnlySpan<float>(_scratch[part].Partial.Get(length), length), sum);
        if (!transposed)
        {
            sum.CopyTo(total);
            return;
        }
        for (int t = 0; t < patch; t++) // sum is [Cin*K*K, Cout]
            for (int co = 0; co < s.OutChannels; co++)
                total[co * patch + t] = sum[t * s.OutChannels + co];
    }

    /// <summary>
    /// Whether the weight gradient is computed as its transpose, dw^T [Cin*K*K, Cout] = columns dy_b^T, rather than as
    /// dw = dy_b columns^T: whichever pads less to whole micro-tiles (a 3x3 kernel on one input channel has 9 taps,
    /// which fills 9 of 16 columns but 9 of 12 rows).
    /// </summary>
    private static bool WeightGradientTransposed(Conv2dShape s)
    {
        int patch = s.InChannels * s.KernelSize * s.KernelSize;
        static long Padded(int m, int n) => (long)((m + Sgemm.MR - 1) / Sgemm.MR * Sgemm.MR) * ((n + Sgemm.NR - 1) / Sgemm.NR * Sgemm.NR);
        return Padded(patch, s.OutChannels) < Padded(s.OutChannels, patch);
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

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                    float* partial = backend._scratch[item].Partial.Get((long)s.OutChannels * patch); // [Cout, Cin*K*K] or its transpose
                    float* columns = direct ? null : scratch.Columns.Get((long)patch * plane);
                    bool transposed = WeightGradientTransposed(s);
                    for (int b = first; b < last; b++)
                    {
                        float* xb = X + b * inImage, dyb = Y + b * outImage, cols = direct ? xb : columns;
                        if (!direct)
                            Im2Col(xb, columns, s);
                        if (transposed)
                            Sgemm.Multiply(false, true, patch, s.OutChannels, plane, cols, plane, dyb, plane, partial, s.OutChannels, 1, accumulate: b > first, scratch);
                        else
                            Sgemm.Multiply(false, true, s.OutChannels, patch, plane, dyb, plane, cols, plane, partial, patch, 1, accumulate: b > first, scratch);
                    }
                    break;
                }
            }
        }
    }

    /// <summary>
    /// columns[(ci*K + kh)*K + kw, oh*W + ow] = x[ci, oh + dh, ow + dw] with (dh, dw) = (kh - K/2, kw - K/2), 0 on the padding.
    /// For one tap, the source of every element is the destination shifted by dh*W + dw within the plane, so each row of
    /// columns is one contiguous copy; afterwards the rows that fall off the top or bottom are cleared, and so are the
    /// columns whose shift wrapped around a row edge.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Im2Col(float* x, float* columns, Conv2dShape s)
    {
        int k = s.KernelSize, pad = k / 2, plane = s.Height * s.Width;
        float* row = columns;
        for (int ci = 0; ci < s.InChannels; ci++)
        {
            float* xc = x + (long)ci * plane;
            for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++, row += plane)
            {
                var (first, last, shift) = TapRange(kh - pad, kw - pad, s);
                Zero(row, first);
                Copy(xc + first + shift, row + first, last - first);
                Zero(row + last, plane - last);
                ClearWrappedColumns(row, kw - pad, s);
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: dx = 0, then every column entry that came from an input is added back to it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Col2Im(float* columns, float* dx, Conv2dShape s)
    {
        int k = s.KernelSize, pad = k / 2, plane = s.Height * s.Width;
        new Span<float>(dx, s.InChannels * plane).Clear();
        float* row = columns;
        for (int ci = 0; ci < s.InChannels; ci++)
        {
            float* dxc = dx + (long)ci * plane;
            for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++, row += plane)
            {
                var (first, last, shift) = TapRange(kh - pad, kw - pad, s);
                if (last <= first)
                    continue;
                // Entries on the padding hold gradient too; clear them (columns is scratch) so the one contiguous add skips them.
                ClearWrappedColumns(row, kw - pad, s);
                AddTo(row + first, dxc + first + shift, last - first);
            }
        }
    }

    // Short loops (a tap row is one plane, often a few hundred floats) written out or through the element-wise drivers,
    // without a span call per row.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(float* source, float* destination, int n) => Elementwise.Map(default(IdentityOperator), source, destination, n);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Zero(float* destination, int n)
    {
        int i = 0;
        if (SimdTier.Vector512)
            for (; i <= n - 16; i += 16)
                Vector512<float>.Zero.Store(destination + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                Vector256<float>.Zero.Store(destination + i);
        for (; i < n; i++)
            destination[i] = 0;
    }

    /// <summary>destination[i] += source[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTo(float* source, float* destination, int n) => Elementwise.Map(default(AddOperator), destination, source, source, destination, n);

    /// <summary>
    /// For the tap at offset (dh, dw): destination positions [first, last) of a plane whose shifted source
    /// (position + shift) lies inside the plane, over the output rows whose input row exists.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int First, int Last, int Shift) TapRange(int dh, int dw, Conv2dShape s)
    {
        int height = s.Height, width = s.Width, plane = height * width, shift = dh * width + dw;
        int first = Math.Clamp(Math.Max(Math.Max(0, -dh) * width, -shift), 0, plane);
        int last = Math.Min(Math.Min(height, height - dh) * width, plane - shift);
        return (first, Math.Clamp(last, first, plane), shift);
    }

    /// <summary>Clears, in every row of one plane, the columns whose tap offset dw falls outside the row (ow + dw &lt; 0 or &gt;= W).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ClearWrappedColumns(float* row, int dw, Conv2dShape s)
    {
        if (dw == 0)
            return;
        int width = s.Width, from = dw < 0 ? 0 : Math.Max(width - dw, 0), to = dw < 0 ? Math.Min(-dw, width) : width;
        for (int oh = 0; oh < s.Height; oh++)
            for (int ow = from; ow < to; ow++)
                row[oh * width + ow] = 0;
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
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                    if (Sse.IsSupported && outW >= 4)
                    {
                        float* r0 = xp + rowStart, r1 = r0 + width;
                        var lanes = Vector128.Create(0, 2, 4, 6);
                        // Four windows per group; the last group is moved back to end at the row's last window, so it
                        // recomputes a few windows (same values) instead of leaving a scalar tail.
                        for (int group = 0; ; group += 4)
                        {
                            int w0 = Math.Min(group, outW - 4);
                            Vector128<float> a0 = Vector128.Load(r0 + 2 * w0), a1 = Vector128.Load(r0 + 2 * w0 + 4);
                            Vector128<float> b0 = Vector128.Load(r1 + 2 * w0), b1 = Vector128.Load(r1 + 2 * w0 + 4);
                            var best = Sse.Shuffle(a0, a1, 0x88);
                            var at = Vector128<int>.Zero;
                            Take(Sse.Shuffle(a0, a1, 0xDD), 1, ref best, ref at);
                            Take(Sse.Shuffle(b0, b1, 0x88), width, ref best, ref at);
                            Take(Sse.Shuffle(b0, b1, 0xDD), width + 1, ref best, ref at);
                            best.Store(y + o + w0);
                            (at + lanes + Vector128.Create(rowStart + 2 * w0)).Store(argMax + o + w0);
                            if (w0 + 4 >= outW)
                                break;
                        }
                        ow = outW;
                        o += outW;
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
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
