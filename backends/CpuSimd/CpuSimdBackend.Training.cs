using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace KernelLab.Backends.CpuSimd;

// The training blocks: dropout, batch norm, and the reductions of the L1 penalty and gradient clipping.
public sealed unsafe partial class CpuSimdBackend
{
    // ---------------------------------------------------------------- dropout

    /// <summary>Threads take runs of Philox blocks, each block the mask of 4 elements.</summary>
    protected override void DropoutForwardCore(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m) =>
        ParallelFor(new DropoutBody(Ptr(x), Ptr(mask), Ptr(y), n, m), (n + 3) / 4, ElementGrain / 4);

    protected override void DropoutBackwardCore(DeviceView dy, DeviceView mask, DeviceView dx, long n) =>
        ParallelFor(new MultiplyBody(Ptr(dy), Ptr(mask), Ptr(dx)), n, ElementGrain);

    /// <summary>
    /// Blocks [start, end): block g is Philox.Block(g, site, step low, step high) under the seed's key, and its words
    /// 0..3 decide elements 4g..4g+3. A Vector512 runs four blocks, a Vector256 two, a Vector128 one, each block's words
    /// in element order; the last block, short when n is not a multiple of 4, is the scalar loop's. y may be x.
    /// </summary>
    private readonly struct DropoutBody(float* x, float* mask, float* y, long n, DropoutMask m) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            uint threshold = m.Threshold;
            float scale = (float)m.Scale;
            long g = start, whole = Math.Min(end, n / 4);
            if (SimdTier.Vector512)
            {
                var counter = Vector512.Create((uint)g, m.Site, m.Step0, m.Step1, (uint)g + 1, m.Site, m.Step0, m.Step1,
                    (uint)g + 2, m.Site, m.Step0, m.Step1, (uint)g + 3, m.Site, m.Step0, m.Step1);
                for (; g <= whole - 4; g += 4)
                {
                    var keep = Vector512.GreaterThanOrEqual(PhiloxRounds(counter, m.Key0, m.Key1), Vector512.Create(threshold));
                    var values = Vector512.ConditionalSelect(keep.AsSingle(), Vector512.Create(scale), Vector512<float>.Zero);
                    values.Store(mask + 4 * g);
                    (Vector512.Load(x + 4 * g) * values).Store(y + 4 * g);
                    counter += Vector512.Create(4u, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
                }
            }
            if (Vector256.IsHardwareAccelerated)
            {
                var counter = Vector256.Create((uint)g, m.Site, m.Step0, m.Step1, (uint)g + 1, m.Site, m.Step0, m.Step1);
                for (; g <= whole - 2; g += 2)
                {
                    var keep = Vector256.GreaterThanOrEqual(PhiloxRounds(counter, m.Key0, m.Key1), Vector256.Create(threshold));
                    var values = Vector256.ConditionalSelect(keep.AsSingle(), Vector256.Create(scale), Vector256<float>.Zero);
                    values.Store(mask + 4 * g);
                    (Vector256.Load(x + 4 * g) * values).Store(y + 4 * g);
                    counter += Vector256.Create(2u, 0, 0, 0, 2, 0, 0, 0);
                }
            }
            if (Vector128.IsHardwareAccelerated)
            {
                var counter = Vector128.Create((uint)g, m.Site, m.Step0, m.Step1);
                for (; g < whole; g++)
                {
                    var keep = Vector128.GreaterThanOrEqual(PhiloxRounds(counter, m.Key0, m.Key1), Vector128.Create(threshold));
                    var values = Vector128.ConditionalSelect(keep.AsSingle(), Vector128.Create(scale), Vector128<float>.Zero);
                    values.Store(mask + 4 * g);
                    (Vector128.Load(x + 4 * g) * values).Store(y + 4 * g);
                    counter += Vector128.Create(1u, 0, 0, 0);
                }
            }
            for (; g < end; g++)
            {
                var (w0, w1, w2, w3) = Philox.Block((uint)g, m.Site, m.Step0, m.Step1, m.Key0, m.Key1);
                Apply(4 * g, w0, threshold, scale);
                Apply(4 * g + 1, w1, threshold, scale);
                Apply(4 * g + 2, w2, threshold, scale);
                Apply(4 * g + 3, w3, threshold, scale);
            }
        }

        private void Apply(long i, uint word, uint threshold, float scale)
        {
            if (i >= n)
                return;
            mask[i] = word >= threshold ? scale : 0;
            y[i] = x[i] * mask[i];
        }
    }

    // Philox4x32-10 (Philox.Block) on the blocks of a vector, one block (c0, c1, c2, c3) per 128 bits. A round's products
    // M0 c0 and M1 c2 are one widening multiply of the even words, and its new block
    // (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0)) is those products' words reversed, xor c1 and c3
    // shifted down to the even words, xor the key.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> PhiloxRounds(Vector512<uint> c, uint k0, uint k1)
    {
        var multipliers = Vector512.Create(Philox.M0, 0, Philox.M1, 0, Philox.M0, 0, Philox.M1, 0, Philox.M0, 0, Philox.M1, 0, Philox.M0, 0, Philox.M1, 0);
        var key = Vector512.Create(k0, 0, k1, 0, k0, 0, k1, 0, k0, 0, k1, 0, k0, 0, k1, 0);
        var weyl = Vector512.Create(Philox.W0, 0, Philox.W1, 0, Philox.W0, 0, Philox.W1, 0, Philox.W0, 0, Philox.W1, 0, Philox.W0, 0, Philox.W1, 0);
        var reversed = Vector512.Create(3u, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
                key += weyl;
            var products = MultiplyEvenWords(c, multipliers).AsUInt32();
            c = Vector512.Shuffle(products, reversed) ^ (c.AsUInt64() >> 32).AsUInt32() ^ key;
        }
        return c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> PhiloxRounds(Vector256<uint> c, uint k0, uint k1)
    {
        var multipliers = Vector256.Create(Philox.M0, 0, Philox.M1, 0, Philox.M0, 0, Philox.M1, 0);
        var key = Vector256.Create(k0, 0, k1, 0, k0, 0, k1, 0);
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
                key += Vector256.Create(Philox.W0, 0, Philox.W1, 0, Philox.W0, 0, Philox.W1, 0);
            var products = MultiplyEvenWords(c, multipliers).AsUInt32();
            c = Vector256.Shuffle(products, Vector256.Create(3u, 2, 1, 0, 7, 6, 5, 4)) ^ (c.AsUInt64() >> 32).AsUInt32() ^ key;
        }
        return c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> PhiloxRounds(Vector128<uint> c, uint k0, uint k1)
    {
        var multipliers = Vector128.Create(Philox.M0, 0, Philox.M1, 0);
        var key = Vector128.Create(k0, 0, k1, 0);
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
                key += Vector128.Create(Philox.W0, 0, Philox.W1, 0);
            var products = MultiplyEvenWords(c, multipliers).AsUInt32();
            c = Vector128.Shuffle(products, Vector128.Create(3u, 2, 1, 0)) ^ (c.AsUInt64() >> 32).AsUInt32() ^ key;
        }
        return c;
    }

    /// <summary>The 64-bit products of the even 32-bit words (vpmuludq where there is one; emulated, one per Vector256 half).</summary>
    private static Vector512<ulong> MultiplyEvenWords(Vector512<uint> a, Vector512<uint> b) =>
        Avx512F.IsSupported ? Avx512F.Multiply(a, b) : Vector512.Create(MultiplyEvenWords(a.GetLower(), b.GetLower()), MultiplyEvenWords(a.GetUpper(), b.GetUpper()));

    private static Vector256<ulong> MultiplyEvenWords(Vector256<uint> a, Vector256<uint> b) =>
        Avx2.IsSupported ? Avx2.Multiply(a, b) : (a.AsUInt64() & Vector256.Create(0xFFFF_FFFFUL)) * (b.AsUInt64() & Vector256.Create(0xFFFF_FFFFUL));

    private static Vector128<ulong> MultiplyEvenWords(Vector128<uint> a, Vector128<uint> b) =>
        Sse2.IsSupported ? Sse2.Multiply(a, b) : (a.AsUInt64() & Vector128.Create(0xFFFF_FFFFUL)) * (b.AsUInt64() & Vector128.Create(0xFFFF_FFFFUL));

    /// <summary>y = a * b over a range.</summary>
    private readonly struct MultiplyBody(float* a, float* b, float* y) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            int n = (int)(end - start);
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(a + start, n), new ReadOnlySpan<float>(b + start, n), new Span<float>(y + start, n));
        }
    }

    // ---------------------------------------------------------------- batch norm

    // x [outer, channels, inner]. Threads take channel ranges for the statistics and sum a channel's outer * inner values
    // in float64 (SumChannels). A channel range of one row is contiguous: when inner is 1 the vectors run across the
    // channels with per-channel vectors of the statistics, else along each channel's plane with its broadcast.

    /// <summary>Per channel range: the mean; y = x - mean, whose squares give the variance; then y scaled and shifted in place.</summary>
    protected override void BatchNormTrainingForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
        DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum)
    {
        var body = new BatchNormTrainingBody(Ptr(x), Ptr(weight), Ptr(bias), Ptr(y), Ptr(mean), Ptr(rstd), Ptr(runningMean), Ptr(runningVar),
            (double*)_scratch[0].Partial.Get(2L * channels), outer, channels, inner, eps, momentum);
        ParallelFor(body, channels, RowGrain((long)outer * inner));
    }

    private readonly struct BatchNormTrainingBody(float* x, float* weight, float* bias, float* y, float* mean, float* rstd, float* runningMean, float* runningVar,
        double* sums, int outer, int channels, int inner, double eps, double momentum) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            double count = (double)outer * inner;
            SumChannels(default(IdentityOperator), x, sums, outer, channels, inner, start, end);
            for (long c = start; c < end; c++)
                mean[c] = (float)(sums[c] / count);
            for (int o = 0; o < outer; o++)
                Center(x, mean, y, channels, inner, o, start, end);
            // Normalised with the biased variance; the running variance takes the unbiased one, as nn.BatchNorm does.
            SumChannels(default(SquareOperator), y, sums, outer, channels, inner, start, end);
            for (long c = start; c < end; c++)
            {
                rstd[c] = (float)(1 / Math.Sqrt(sums[c] / count + eps));
                runningMean[c] = (float)((1 - momentum) * runningMean[c] + momentum * mean[c]);
                runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * (sums[c] / (count - 1)));
            }
            for (int o = 0; o < outer; o++)
                ScaleShift(y, rstd, weight, bias, channels, inner, o, start, end);
        }
    }

    /// <summary>rstd from the running variance once, on the calling thread; then threads take rows.</summary>
    protected override void BatchNormEvalForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView runningMean, DeviceView runningVar, DeviceView y,
        int outer, int channels, int inner, double eps)
    {
        float* rstd = _scratch[0].Partial.Get(channels), prv = Ptr(runningVar);
        for (int c = 0; c < channels; c++)
            rstd[c] = (float)(1 / Math.Sqrt(prv[c] + eps));
        ParallelFor(new BatchNormEvalBody(Ptr(x), Ptr(weight), Ptr(bias), Ptr(runningMean), rstd, Ptr(y), channels, inner), outer, RowGrain((long)channels * inner));
    }

    private readonly struct BatchNormEvalBody(float* x, float* weight, float* bias, float* mean, float* rstd, float* y, int channels, int inner) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            for (long o = start; o < end; o++)
            {
                Center(x, mean, y, channels, inner, o, 0, channels);
                ScaleShift(y, rstd, weight, bias, channels, inner, o, 0, channels);
            }
        }
    }

    /// <summary>y = x - mean[c] over channels [c0, c1) of row o; y may be x.</summary>
    private static void Center(float* x, float* mean, float* y, int channels, int inner, long o, long c0, long c1)
    {
        long row = o * channels * inner;
        if (inner == 1)
        {
            int n = (int)(c1 - c0);
            TensorPrimitives.Subtract(new ReadOnlySpan<float>(x + row + c0, n), new ReadOnlySpan<float>(mean + c0, n), new Span<float>(y + row + c0, n));
            return;
        }
        for (long c = c0; c < c1; c++)
            TensorPrimitives.Subtract(new ReadOnlySpan<float>(x + row + c * inner, inner), mean[c], new Span<float>(y + row + c * inner, inner));
    }

    /// <summary>y = y rstd[c] weight[c] + bias[c] over channels [c0, c1) of row o, in place.</summary>
    private static void ScaleShift(float* y, float* rstd, float* weight, float* bias, int channels, int inner, long o, long c0, long c1)
    {
        long row = o * channels * inner;
        if (inner == 1)
        {
            int n = (int)(c1 - c0);
            var values = new Span<float>(y + row + c0, n);
            TensorPrimitives.Multiply(values, new ReadOnlySpan<float>(rstd + c0, n), values);
            TensorPrimitives.MultiplyAdd(values, new ReadOnlySpan<float>(weight + c0, n), new ReadOnlySpan<float>(bias + c0, n), values);
            return;
        }
        for (long c = c0; c < c1; c++)
        {
            var values = new Span<float>(y + row + c * inner, inner);
            TensorPrimitives.Multiply(values, rstd[c] * weight[c], values);
            TensorPrimitives.Add(values, bias[c], values);
        }
    }

    /// <summary>
    /// Channel ranges as the forward's statistics: dx first holds dy (x - mean), so that both of a channel's sums are
    /// sums of one tensor; then dx = rstd (dy weight - mean(dxhat) - xhat mean(dxhat xhat)).
    /// </summary>
    protected override void BatchNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias,
        int outer, int channels, int inner)
    {
        float* partial = _scratch[0].Partial.Get(6L * channels); // float64 sums [2, channels], then float means [2, channels]
        var body = new BatchNormBackwardBody(Ptr(dy), Ptr(x), Ptr(weight), Ptr(mean), Ptr(rstd), Ptr(dx), Ptr(dWeight), Ptr(dBias),
            (double*)partial, partial + 4L * channels, outer, channels, inner);
        ParallelFor(body, channels, RowGrain((long)outer * inner));
    }

    private readonly struct BatchNormBackwardBody(float* dy, float* x, float* weight, float* mean, float* rstd, float* dx, float* dWeight, float* dBias,
        double* sums, float* means, int outer, int channels, int inner) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            double count = (double)outer * inner;
            double* sumDy = sums, sumDyXhat = sums + channels;
            float* meanDxhat = means, meanDxhatXhat = means + channels;
            for (int o = 0; o < outer; o++)
            {
                Center(x, mean, dx, channels, inner, o, start, end);
                long from = ((long)o * channels + start) * inner;
                int n = (int)((end - start) * inner);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(dx + from, n), new ReadOnlySpan<float>(dy + from, n), new Span<float>(dx + from, n));
            }
            SumChannels(default(IdentityOperator), dy, sumDy, outer, channels, inner, start, end);
            SumChannels(default(IdentityOperator), dx, sumDyXhat, outer, channels, inner, start, end);
            for (long c = start; c < end; c++)
            {
                sumDyXhat[c] *= rstd[c];
                dWeight[c] = (float)sumDyXhat[c];
                dBias[c] = (float)sumDy[c];
                // In float64 and rounded once, as the reference's: where every dy w of a channel is one value, dy w - mean is 0.
                meanDxhat[c] = (float)(sumDy[c] * weight[c] / count);
                meanDxhatXhat[c] = (float)(sumDyXhat[c] * weight[c] / count);
            }
            for (int o = 0; o < outer; o++)
                InputGradient(o, start, end, meanDxhat, meanDxhatXhat);
        }

        /// <summary>dx over channels [c0, c1) of row o; dy w - mean(dxhat) is one rounded product less a value, never fused.</summary>
        private void InputGradient(long o, long c0, long c1, float* meanDxhat, float* meanDxhatXhat)
        {
            long row = o * channels * inner;
            if (inner == 1)
            {
                float* dyr = dy + row, xr = x + row, dxr = dx + row;
                long c = c0;
                if (SimdTier.Vector512)
                {
                    for (; c <= c1 - 16; c += 16)
                    {
                        var rs = Vector512.Load(rstd + c);
                        var xhat = (Vector512.Load(xr + c) - Vector512.Load(mean + c)) * rs;
                        var dxhat = Vector512.Load(dyr + c) * Vector512.Load(weight + c);
                        (rs * (dxhat - Vector512.Load(meanDxhat + c) - xhat * Vector512.Load(meanDxhatXhat + c))).Store(dxr + c);
                    }
                }
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; c <= c1 - 8; c += 8)
                    {
                        var rs = Vector256.Load(rstd + c);
                        var xhat = (Vector256.Load(xr + c) - Vector256.Load(mean + c)) * rs;
                        var dxhat = Vector256.Load(dyr + c) * Vector256.Load(weight + c);
                        (rs * (dxhat - Vector256.Load(meanDxhat + c) - xhat * Vector256.Load(meanDxhatXhat + c))).Store(dxr + c);
                    }
                }
                for (; c < c1; c++)
                    dxr[c] = rstd[c] * (dyr[c] * weight[c] - meanDxhat[c] - (xr[c] - mean[c]) * rstd[c] * meanDxhatXhat[c]);
                return;
            }
            for (long c = c0; c < c1; c++)
            {
                long plane = row + c * inner;
                Elementwise.Map(new BatchNormGradientOperator(mean[c], rstd[c], weight[c], meanDxhat[c], meanDxhatXhat[c]), x + plane, dy + plane, dy + plane, dx + plane, inner);
            }
        }
    }

    /// <summary>dx = rstd (dy weight - mean(dxhat) - xhat mean(dxhat xhat)) of one channel (x, dy, unused), xhat = (x - mean) rstd; never fused.</summary>
    private readonly struct BatchNormGradientOperator(float mean, float rstd, float weight, float meanDxhat, float meanDxhatXhat) : ITernaryOperator
    {
        public float Invoke(float x, float dy, float z) => rstd * (dy * weight - meanDxhat - (x - mean) * rstd * meanDxhatXhat);

        public Vector128<float> Invoke(Vector128<float> x, Vector128<float> dy, Vector128<float> z) =>
            Vector128.Create(rstd) * (dy * Vector128.Create(weight) - Vector128.Create(meanDxhat) - (x - Vector128.Create(mean)) * Vector128.Create(rstd) * Vector128.Create(meanDxhatXhat));

        public Vector256<float> Invoke(Vector256<float> x, Vector256<float> dy, Vector256<float> z) =>
            Vector256.Create(rstd) * (dy * Vector256.Create(weight) - Vector256.Create(meanDxhat) - (x - Vector256.Create(mean)) * Vector256.Create(rstd) * Vector256.Create(meanDxhatXhat));

        public Vector512<float> Invoke(Vector512<float> x, Vector512<float> dy, Vector512<float> z) =>
            Vector512.Create(rstd) * (dy * Vector512.Create(weight) - Vector512.Create(meanDxhat) - (x - Vector512.Create(mean)) * Vector512.Create(rstd) * Vector512.Create(meanDxhatXhat));
    }

    // ---------------------------------------------------------------- regularisation and clipping

    // Blocks of this many elements are summed apart and then added in block order, so the order of a SumReduce's
    // additions is n's alone, whatever the thread count.
    private const int SumBlock = 1024;

    protected override void SumReduceCore(Reduction f, DeviceView x, long n, DeviceView result, double alpha, bool accumulate)
    {
        long blocks = (n + SumBlock - 1) / SumBlock;
        double* partial = (double*)_scratch[0].Partial.Get(2 * blocks); // [blocks]
        if (f == Reduction.SumAbs)
            ParallelFor(new SumBlocksBody<AbsOperator>(Ptr(x), n, partial), blocks, ElementGrain / SumBlock);
        else
            ParallelFor(new SumBlocksBody<SquareOperator>(Ptr(x), n, partial), blocks, ElementGrain / SumBlock);
        double sum = 0;
        for (long b = 0; b < blocks; b++)
            sum += partial[b];
        float* r = Ptr(result);
        *r = (float)(alpha * sum + (accumulate ? *r : 0));
    }

    /// <summary>Blocks [start, end): partial[b] = the float64 sum of op(x) over block b.</summary>
    private readonly struct SumBlocksBody<TOp>(float* x, long n, double* partial) : IRangeBody
        where TOp : struct, IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            for (long b = start; b < end; b++)
                partial[b] = Elementwise.Sum(default(TOp), x + b * SumBlock, (nint)Math.Min(SumBlock, n - b * SumBlock));
        }
    }

    protected override void AddL1GradientCore(DeviceView param, DeviceView grad, long n, double lambda) =>
        ParallelFor(new Map3Body<L1GradientOperator>(new((float)lambda), Ptr(param), Ptr(grad), Ptr(grad), Ptr(grad)), n, ElementGrain);

    /// <summary>The factor from the squared norm where it lies, in host memory: nothing waits.</summary>
    protected override void ClipByNormCore(DeviceView x, long n, DeviceView sumSquares, double maxNorm)
    {
        ParallelFor(new ScaleBody(Ptr(x), (float)ClipFactor(*Ptr(sumSquares), maxNorm)), n, ElementGrain);
    }

    /// <summary>x *= factor over a range.</summary>
    private readonly struct ScaleBody(float* x, float factor) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            var values = new Span<float>(x + start, (int)(end - start));
            TensorPrimitives.Multiply(values, factor, values);
        }
    }
}
