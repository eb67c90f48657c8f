using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

// Element-wise ops, activations, bias and embedding.
public sealed unsafe partial class CpuSimdBackend
{
    // The smallest chunk of element-wise work worth handing to another thread (a few microseconds).
    private const long ElementGrain = 1 << 13;

    protected override void FillCore(DeviceView y, double value) => Span(y).Fill((float)value);

    protected override void AddCore(DeviceView a, DeviceView b, DeviceView y, long n) =>
        ParallelFor(new AddBody(Ptr(a), Ptr(b), Ptr(y)), n, ElementGrain);

    private readonly struct AddBody(float* a, float* b, float* y) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            int n = (int)(end - start);
            TensorPrimitives.Add(new ReadOnlySpan<float>(a + start, n), new ReadOnlySpan<float>(b + start, n), new Span<float>(y + start, n));
        }
    }

    protected override void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n)
    {
        float* px = Ptr(x), py = Ptr(y);
        switch (f)
        {
            case Activation.Relu: ParallelFor(new MapBody<ReluOperator>(px, py), n, ElementGrain); break;
            case Activation.GeluTanh: ParallelFor(new MapBody<GeluOperator>(px, py), n, ElementGrain); break;
            case Activation.Sigmoid: ParallelFor(new MapBody<SigmoidOperator>(px, py), n, ElementGrain); break;
            case Activation.Tanh: ParallelFor(new MapBody<TanhOperator>(px, py), n, ElementGrain); break;
            default: throw new ArgumentOutOfRangeException(nameof(f));
        }
    }

    protected override void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n)
    {
        float* px = Ptr(x), py = Ptr(y), pdy = Ptr(dy), pdx = Ptr(dx);
        switch (f)
        {
            case Activation.Relu: ParallelFor(new Map3Body<ReluBackwardOperator>(default, px, py, pdy, pdx), n, ElementGrain); break;
            case Activation.GeluTanh: ParallelFor(new Map3Body<GeluBackwardOperator>(default, px, py, pdy, pdx), n, ElementGrain); break;
            case Activation.Sigmoid: ParallelFor(new Map3Body<SigmoidBackwardOperator>(default, px, py, pdy, pdx), n, ElementGrain); break;
            case Activation.Tanh: ParallelFor(new Map3Body<TanhBackwardOperator>(default, px, py, pdy, pdx), n, ElementGrain); break;
            default: throw new ArgumentOutOfRangeException(nameof(f));
        }
    }

    /// <summary>y = op(x) over a range.</summary>
    private readonly struct MapBody<TOp>(float* x, float* y) : IRangeBody
        where TOp : struct, IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end) => Elementwise.Map(default(TOp), x + start, y + start, (nint)(end - start));
    }

    /// <summary>w = op(x, y, z) over a range.</summary>
    private readonly struct Map3Body<TOp>(TOp op, float* x, float* y, float* z, float* w) : IRangeBody
        where TOp : struct, ITernaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end) => Elementwise.Map(op, x + start, y + start, z + start, w + start, (nint)(end - start));
    }

    protected override void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner)
    {
        if (inner == 1)
            ParallelFor(new AddBiasRowsBody(Ptr(y), Ptr(bias), channels), outer, Math.Max(1, ElementGrain / Math.Max(channels, 1)));
        else
            ParallelFor(new AddBiasPlanesBody(Ptr(y), Ptr(bias), channels, inner), (long)outer * channels, Math.Max(1, ElementGrain / inner));
    }

    /// <summary>Rows [start, end) of y [outer, channels] += bias.</summary>
    private readonly struct AddBiasRowsBody(float* y, float* bias, int channels) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            var b = new ReadOnlySpan<float>(bias, channels);
            for (long o = start; o < end; o++)
            {
                var row = new Span<float>(y + o * channels, channels);
                TensorPrimitives.Add(row, b, row);
            }
        }
    }

    /// <summary>Planes [start, end) of y [outer * channels, inner] += their channel's bias.</summary>
    private readonly struct AddBiasPlanesBody(float* y, float* bias, int channels, int inner) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            for (long plane = start; plane < end; plane++)
            {
                var values = new Span<float>(y + plane * inner, inner);
                TensorPrimitives.Add(values, bias[plane % channels], values);
            }
        }
    }

    /// <summary>Sums in float64; threads take channel ranges.</summary>
    protected override void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate)
    {
        var body = new BiasBackwardBody(Ptr(dy), Ptr(dBias), (double*)_scratch[0].Partial.Get(2L * channels), outer, channels, inner, accumulate);
        ParallelFor(body, channels, RowGrain((long)outer * inner));
    }

    /// <summary>Channels [start, end) of dBias from dy [outer, channels, inner], through float64 sums [channels].</summary>
    private readonly struct BiasBackwardBody(float* dy, float* dBias, double* sums, int outer, int channels, int inner, bool accumulate) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            SumChannels(default(IdentityOperator), dy, sums, outer, channels, inner, start, end);
            for (long ch = start; ch < end; ch++)
                dBias[ch] = (float)(sums[ch] + (accumulate ? dBias[ch] : 0));
        }
    }

    /// <summary>
    /// sums[c] = the float64 sum of op(v) over the values v of channel c of x [outer, channels, inner], for channels
    /// [start, end). A row's channels are contiguous when inner is 1 and the vectors run across them; else along each plane.
    /// </summary>
    private static void SumChannels<TOp>(TOp op, float* x, double* sums, int outer, int channels, int inner, long start, long end)
        where TOp : struct, IUnaryOperator
    {
        new Span<double>(sums + start, (int)(end - start)).Clear();
        for (int o = 0; o < outer; o++)
        {
            float* row = x + (long)o * channels * inner;
            if (inner == 1)
                Elementwise.AddWidened(op, row + start, sums + start, (nint)(end - start));
            else
                for (long ch = start; ch < end; ch++)
                    sums[ch] += Elementwise.Sum(op, row + ch * inner, inner);
        }
    }

    protected override void EmbeddingForwardCore(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim)
    {
        int* pid = Ptr(ids);
        float* pt = Ptr(table), py = Ptr(y); // table [vocab, dim]; y [count, dim]
        for (int i = 0; i < count; i++)
            new ReadOnlySpan<float>(pt + (long)pid[i] * dim, dim).CopyTo(new Span<float>(py + (long)i * dim, dim));
    }

    protected override void EmbeddingBackwardCore(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim)
    {
        int* pid = Ptr(ids);
        float* pdy = Ptr(dy), pdt = Ptr(dTable); // dy [count, dim]; dTable [vocab, dim]
        for (int i = 0; i < count; i++)
        {
            var row = new Span<float>(pdt + (long)pid[i] * dim, dim);
            TensorPrimitives.Add(row, new ReadOnlySpan<float>(pdy + (long)i * dim, dim), row);
        }
    }
}
