namespace KernelLab.Backends.Reference;

// Element-wise ops, activations, GEMM, bias and embedding.
public partial class ReferenceBackend
{
    private static readonly double SqrtTwoOverPi = Math.Sqrt(2.0 / Math.PI);

    private const double GeluCubic = 0.044715;

    protected override void FillCore(DeviceView y, double value) => Span(y).Fill(value);

    protected override void AddCore(DeviceView a, DeviceView b, DeviceView y, long n)
    {
        Span<double> sa = Span(a), sb = Span(b), sy = Span(y);
        for (int i = 0; i < n; i++)
            sy[i] = sa[i] + sb[i];
    }

    protected override void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n)
    {
        Span<double> sx = Span(x), sy = Span(y);
        for (int i = 0; i < n; i++)
            sy[i] = Activate(f, sx[i]);
    }

    protected override void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n)
    {
        Span<double> sx = Span(x), sy = Span(y), sdy = Span(dy), sdx = Span(dx);
        for (int i = 0; i < n; i++)
            sdx[i] = Derivative(f, sx[i], sy[i]) * sdy[i];
    }

    private static double Activate(Activation f, double x) => f switch
    {
        // Written as PyTorch's threshold (x <= 0 ? 0 : x) so that a NaN passes through, as in torch.relu, and is never hidden.
        Activation.Relu => x <= 0 ? 0 : x,
        Activation.GeluTanh => 0.5 * x * (1 + Math.Tanh(GeluInner(x))),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-x)),
        Activation.Tanh => Math.Tanh(x),
        _ => throw new ArgumentOutOfRangeException(nameof(f)),
    };

    /// <summary>f'(x), given the input x and the output y = f(x): sigmoid and tanh are cheapest from y.</summary>
    private static double Derivative(Activation f, double x, double y)
    {
        switch (f)
        {
            case Activation.Relu:
                return x <= 0 ? 0 : 1; // PyTorch's threshold_backward: the gradient passes where x is not <= 0, NaN included
            case Activation.GeluTanh:
                // The exact derivative of 0.5 x (1 + tanh(u)), as PyTorch's gelu_backward, not that of exact GELU.
                double t = Math.Tanh(GeluInner(x));
                double du = SqrtTwoOverPi * (1 + 3 * GeluCubic * x * x);
                return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
            case Activation.Sigmoid:
                return SigmoidDerivative(y);
            case Activation.Tanh:
                return TanhDerivative(y);
            default:
                throw new ArgumentOutOfRangeException(nameof(f));
        }
    }

    /// <summary>u = sqrt(2/pi) (x + 0.044715 x^3): GELU's tanh approximation is 0.5 x (1 + tanh(u)).</summary>
    private static double GeluInner(double x) => SqrtTwoOverPi * (x + GeluCubic * x * x * x);

    private static double SigmoidDerivative(double y) => y * (1 - y);

    private static double TanhDerivative(double y) => 1 - y * y;

    protected override void GemmCore(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, double alpha, bool accumulate)
    {
        Span<double> sa = Span(a), sb = Span(b), sc = Span(c); // a [m, k] or [k, m]; b [k, n] or [n, k]; c [m, n]
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    double aip = transposeA ? sa[p * m + i] : sa[i * k + p];
                    double bpj = transposeB ? sb[j * k + p] : sb[p * n + j];
                    sum += aip * bpj;
                }
                // With k = 0 the product is empty: c becomes 0, or keeps its value when accumulating.
                sc[i * n + j] = alpha * sum + (accumulate ? sc[i * n + j] : 0);
            }
        }
    }

    protected override void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner)
    {
        Span<double> sy = Span(y), sb = Span(bias); // y [outer, channels, inner]; bias [channels]
        for (int o = 0; o < outer; o++)
            for (int ch = 0; ch < channels; ch++)
                for (int i = 0; i < inner; i++)
                    sy[(o * channels + ch) * inner + i] += sb[ch];
    }

    protected override void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate)
    {
        Span<double> sdy = Span(dy), sdb = Span(dBias); // dy [outer, channels, inner]; dBias [channels]
        for (int ch = 0; ch < channels; ch++)
        {
            double sum = 0;
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                    sum += sdy[(o * channels + ch) * inner + i];
            sdb[ch] = sum + (accumulate ? sdb[ch] : 0);
        }
    }

    protected override void EmbeddingForwardCore(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim)
    {
        Span<int> sid = Indices(ids);
        Span<double> st = Span(table), sy = Span(y); // table [vocab, dim]; y [count, dim]
        for (int i = 0; i < count; i++)
            st.Slice(sid[i] * dim, dim).CopyTo(sy.Slice(i * dim, dim));
    }

    protected override void EmbeddingBackwardCore(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim)
    {
        Span<int> sid = Indices(ids);
        Span<double> sdy = Span(dy), sdt = Span(dTable); // dy [count, dim]; dTable [vocab, dim]
        // An id that occurs several times collects the sum of its rows' gradients.
        for (int i = 0; i < count; i++)
            for (int d = 0; d < dim; d++)
                sdt[sid[i] * dim + d] += sdy[i * dim + d];
    }
}
