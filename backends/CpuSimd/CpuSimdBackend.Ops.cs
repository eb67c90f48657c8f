using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

// Element-wise ops, activations, bias and embedding.
public sealed unsafe partial class CpuSimdBackend
{
    protected override void FillCore(DeviceView y, double value) => Span(y).Fill((float)value);

    protected override void AddCore(DeviceView a, DeviceView b, DeviceView y, long n) =>
        TensorPrimitives.Add(Span(a)[..(int)n], Span(b)[..(int)n], Span(y)[..(int)n]);

    protected override void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n)
    {
        float* px = Ptr(x), py = Ptr(y);
        switch (f)
        {
            case Activation.Relu: Elementwise.Map(default(ReluOperator), px, py, (nint)n); break;
            case Activation.GeluTanh: Elementwise.Map(default(GeluOperator), px, py, (nint)n); break;
            case Activation.Sigmoid: Elementwise.Map(default(SigmoidOperator), px, py, (nint)n); break;
            case Activation.Tanh: Elementwise.Map(default(TanhOperator), px, py, (nint)n); break;
            default: throw new ArgumentOutOfRangeException(nameof(f));
        }
    }

    protected override void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n)
    {
        float* px = Ptr(x), py = Ptr(y), pdy = Ptr(dy), pdx = Ptr(dx);
        switch (f)
        {
            case Activation.Relu: Elementwise.Map(default(ReluBackwardOperator), px, py, pdy, pdx, (nint)n); break;
            case Activation.GeluTanh: Elementwise.Map(default(GeluBackwardOperator), px, py, pdy, pdx, (nint)n); break;
            case Activation.Sigmoid: Elementwise.Map(default(SigmoidBackwardOperator), px, py, pdy, pdx, (nint)n); break;
            case Activation.Tanh: Elementwise.Map(default(TanhBackwardOperator), px, py, pdy, pdx, (nint)n); break;
            default: throw new ArgumentOutOfRangeException(nameof(f));
        }
    }

    protected override void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner)
    {
        float* py = Ptr(y); // [outer, channels, inner]
        var b = Span(bias)[..channels];
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                var row = new Span<float>(py + (long)o * channels, channels);
                TensorPrimitives.Add(row, b, row);
                continue;
            }
            for (int ch = 0; ch < channels; ch++)
            {
                var plane = new Span<float>(py + ((long)o * channels + ch) * inner, inner);
                TensorPrimitives.Add(plane, b[ch], plane);
            }
        }
    }

    /// <summary>Sums in float64 across rows (a bias gradient sums up to B*H*W terms), in float within a row.</summary>
    protected override void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate)
    {
        float* pdy = Ptr(dy); // [outer, channels, inner]
        float* db = Ptr(dBias);
        double* sums = (double*)_scratch[0].Partial.Get(2L * channels); // [channels]
        new Span<double>(sums, channels).Clear();
        for (int o = 0; o < outer; o++)
        {
            float* row = pdy + (long)o * channels * inner;
            if (inner == 1)
                AddWidened(row, sums, channels);
            else
                for (int ch = 0; ch < channels; ch++)
                    sums[ch] += TensorPrimitives.Sum(new ReadOnlySpan<float>(row + (long)ch * inner, inner));
        }
        for (int ch = 0; ch < channels; ch++)
            db[ch] = (float)(sums[ch] + (accumulate ? db[ch] : 0));
    }

    /// <summary>sums[i] += x[i] in float64.</summary>
    private static void AddWidened(float* x, double* sums, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(x + i));
                (Vector256.Load(sums + i) + lo).Store(sums + i);
                (Vector256.Load(sums + i + 4) + hi).Store(sums + i + 4);
            }
        }
        for (; i < n; i++)
            sums[i] += x[i];
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
