using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

// The LSTM and GRU cells, LayerNorm, causal self-attention and the softmax cross-entropy loss.
public sealed unsafe partial class CpuSimdBackend
{
    private readonly AttentionJob _attentionJob;

    /// <summary>All four gates, the cell and the output in one pass over each row (gate blocks i, f, g, o of width H).</summary>
    protected override void LstmCellForwardCore(DeviceView preact, DeviceView cPrev, DeviceView gates, DeviceView c, DeviceView h, int batch, int hidden) =>
        ParallelFor(new LstmForwardBody(Ptr(preact), Ptr(cPrev), Ptr(gates), Ptr(c), Ptr(h), hidden), batch, RowGrain(4 * hidden));

    /// <summary>Rows worth handing to another thread, for rows of <paramref name="width"/> elements.</summary>
    private static long RowGrain(long width) => Math.Max(1, ElementGrain / Math.Max(width, 1));

    private readonly struct LstmForwardBody(float* preact, float* cPrev, float* gates, float* c, float* h, int hidden) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            for (long b = start; b < end; b++)
            {
                float* p = preact + b * 4 * hidden, g = gates + b * 4 * hidden; // [4H]
                float* cp = cPrev + b * hidden, pc = c + b * hidden, ph = h + b * hidden; // [H]
                int j = 0, h1 = hidden, h2 = 2 * hidden, h3 = 3 * hidden;
                if (SimdTier.Vector512)
                {
                    for (; j <= hidden - 16; j += 16)
                    {
                        var i = SimdMath.Sigmoid(Vector512.Load(p + j));
                        var f = SimdMath.Sigmoid(Vector512.Load(p + h1 + j));
                        var gg = SimdMath.Tanh(Vector512.Load(p + h2 + j));
                        var o = SimdMath.Sigmoid(Vector512.Load(p + h3 + j));
                        i.Store(g + j);
                        f.Store(g + h1 + j);
                        gg.Store(g + h2 + j);
                        o.Store(g + h3 + j);
                        var cell = SimdMath.MultiplyAdd(f, Vector512.Load(cp + j), i * gg);
                        cell.Store(pc + j);
                        (o * SimdMath.Tanh(cell)).Store(ph + j);
                    }
                }
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; j <= hidden - 8; j += 8)
                    {
                        var i = SimdMath.Sigmoid(Vector256.Load(p + j));
                        var f = SimdMath.Sigmoid(Vector256.Load(p + h1 + j));
                        var gg = SimdMath.Tanh(Vector256.Load(p + h2 + j));
                        var o = SimdMath.Sigmoid(Vector256.Load(p + h3 + j));
                        i.Store(g + j);
                        f.Store(g + h1 + j);
                        gg.Store(g + h2 + j);
                        o.Store(g + h3 + j);
                        var cell = SimdMath.MultiplyAdd(f, Vector256.Load(cp + j), i * gg);
                        cell.Store(pc + j);
                        (o * SimdMath.Tanh(cell)).Store(ph + j);
                    }
                }
                if (Vector128.IsHardwareAccelerated)
                {
                    for (; j <= hidden - 4; j += 4)
                    {
                        var i = SimdMath.Sigmoid(Vector128.Load(p + j));
                        var f = SimdMath.Sigmoid(Vector128.Load(p + h1 + j));
                        var gg = SimdMath.Tanh(Vector128.Load(p + h2 + j));
                        var o = SimdMath.Sigmoid(Vector128.Load(p + h3 + j));
                        i.Store(g + j);
                        f.Store(g + h1 + j);
                        gg.Store(g + h2 + j);
                        o.Store(g + h3 + j);
                        var cell = SimdMath.MultiplyAdd(f, Vector128.Load(cp + j), i * gg);
                        cell.Store(pc + j);
                        (o * SimdMath.Tanh(cell)).Store(ph + j);
                    }
                }
                for (; j < hidden; j++)
                {
                    float i = g[j] = SimdMath.Sigmoid(p[j]);
                    float f = g[h1 + j] = SimdMath.Sigmoid(p[h1 + j]);
                    float gg = g[h2 + j] = SimdMath.Tanh(p[h2 + j]);
                    float o = g[h3 + j] = SimdMath.Sigmoid(p[h3 + j]);
                    pc[j] = f * cp[j] + i * gg;
                    ph[j] = o * SimdMath.Tanh(pc[j]);
                }
            }
        }
    }

    /// <summary>
    /// The four gate gradients and dcPrev in one pass. c reaches the loss through the next step (dc) and through
    /// h = o tanh(c); dc is read before dcPrev is written at the same index, so they may be one buffer.
    /// </summary>
    protected override void LstmCellBackwardCore(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden) =>
        ParallelFor(new LstmBackwardBody(Ptr(gates), Ptr(cPrev), Ptr(c), Ptr(dh), Ptr(dc), Ptr(dPreact), Ptr(dcPrev), hidden), batch, RowGrain(4 * hidden));

    private readonly struct LstmBackwardBody(float* gates, float* cPrev, float* c, float* dh, float* dc, float* dPreact, float* dcPrev, int hidden) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            for (long b = start; b < end; b++)
            {
                long row = b * hidden;
                float* g = gates + 4 * row, dp = dPreact + 4 * row; // [4H]
                float* cp = cPrev + row, pc = c + row, pdh = dh + row, pdc = dc + row, pdcp = dcPrev + row; // [H]
                int j = 0, h1 = hidden, h2 = 2 * hidden, h3 = 3 * hidden;
                if (SimdTier.Vector512)
                {
                    var one = Vector512<float>.One;
                    for (; j <= hidden - 16; j += 16)
                    {
                        var i = Vector512.Load(g + j);
                        var f = Vector512.Load(g + h1 + j);
                        var gg = Vector512.Load(g + h2 + j);
                        var o = Vector512.Load(g + h3 + j);
                        var dhj = Vector512.Load(pdh + j);
                        var tanhC = SimdMath.Tanh(Vector512.Load(pc + j));
                        var dcTotal = SimdMath.MultiplyAdd(dhj * o, one - tanhC * tanhC, Vector512.Load(pdc + j));
                        (dcTotal * f).Store(pdcp + j);
                        (dcTotal * gg * i * (one - i)).Store(dp + j);
                        (dcTotal * Vector512.Load(cp + j) * f * (one - f)).Store(dp + h1 + j);
                        (dcTotal * i * (one - gg * gg)).Store(dp + h2 + j);
                        (dhj * tanhC * o * (one - o)).Store(dp + h3 + j);
                    }
                }
                if (Vector256.IsHardwareAccelerated)
                {
                    var one = Vector256<float>.One;
                    for (; j <= hidden - 8; j += 8)
                    {
                        var i = Vector256.Load(g + j);
                        var f = Vector256.Load(g + h1 + j);
                        var gg = Vector256.Load(g + h2 + j);
                        var o = Vector256.Load(g + h3 + j);
                        var dhj = Vector256.Load(pdh + j);
                        var tanhC = SimdMath.Tanh(Vector256.Load(pc + j));
                        var dcTotal = SimdMath.MultiplyAdd(dhj * o, one - tanhC * tanhC, Vector256.Load(pdc + j));
                        (dcTotal * f).Store(pdcp + j);
                        (dcTotal * gg * i * (one - i)).Store(dp + j);
                        (dcTotal * Vector256.Load(cp + j) * f * (one - f)).Store(dp + h1 + j);
                        (dcTotal * i * (one - gg * gg)).Store(dp + h2 + j);
                        (dhj * tanhC * o * (one - o)).Store(dp + h3 + j);
                    }
                }
                if (Vector128.IsHardwareAccelerated)
                {
                    var one = Vector128<float>.One;
                    for (; j <= hidden - 4; j += 4)
                    {
                        var i = Vector128.Load(g + j);
                        var f = Vector128.Load(g + h1 + j);
                        var gg = Vector128.Load(g + h2 + j);
                        var o = Vector128.Load(g + h3 + j);
                        var dhj = Vector128.Load(pdh + j);
                        var tanhC = SimdMath.Tanh(Vector128.Load(pc + j));
                        var dcTotal = SimdMath.MultiplyAdd(dhj * o, one - tanhC * tanhC, Vector128.Load(pdc + j));
                        (dcTotal * f).Store(pdcp + j);
                        (dcTotal * gg * i * (one - i)).Store(dp + j);
                        (dcTotal * Vector128.Load(cp + j) * f * (one - f)).Store(dp + h1 + j);
                        (dcTotal * i * (one - gg * gg)).Store(dp + h2 + j);
                        (dhj * tanhC * o * (one - o)).Store(dp + h3 + j);
                    }
                }
                for (; j < hidden; j++)
                {
                    float i = g[j], f = g[h1 + j], gg = g[h2 + j], o = g[h3 + j];
                    float tanhC = SimdMath.Tanh(pc[j]);
                    float dcTotal = pdc[j] + pdh[j] * o * (1 - tanhC * tanhC);
                    pdcp[j] = dcTotal * f;
                    dp[j] = dcTotal * gg * i * (1 - i);
                    dp[h1 + j] = dcTotal * cp[j] * f * (1 - f);
                    dp[h2 + j] = dcTotal * i * (1 - gg * gg);
                    dp[h3 + j] = pdh[j] * tanhC * o * (1 - o);
                }
            }
        }
    }

    /// <summary>The three gates and the output in one pass over each row (gate blocks r, z, n of width H in gi, gh and gates).</summary>
    protected override void GruCellForwardCore(DeviceView gi, DeviceView gh, DeviceView hPrev, DeviceView gates, DeviceView h, int batch, int hidden) =>
        ParallelFor(new GruForwardBody(Ptr(gi), Ptr(gh), Ptr(hPrev), Ptr(gates), Ptr(h), hidden), batch, RowGrain(3 * hidden));

    /// <summary>h = (1 - z) n + z hPrev, computed as n + z (hPrev - n).</summary>
    private readonly struct GruForwardBody(float* gi, float* gh, float* hPrev, float* gates, float* h, int hidden) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            for (long b = start; b < end; b++)
            {
                float* pi = gi + b * 3 * hidden, ph = gh + b * 3 * hidden, g = gates + b * 3 * hidden; // [3H]
                float* hp = hPrev + b * hidden, ho = h + b * hidden; // [H]
                int j = 0, h1 = hidden, h2 = 2 * hidden;
                if (SimdTier.Vector512)
                {
                    for (; j <= hidden - 16; j += 16)
                    {
                        var r = SimdMath.Sigmoid(Vector512.Load(pi + j) + Vector512.Load(ph + j));
                        var z = SimdMath.Sigmoid(Vector512.Load(pi + h1 + j) + Vector512.Load(ph + h1 + j));
                        var n = SimdMath.Tanh(SimdMath.MultiplyAdd(r, Vector512.Load(ph + h2 + j), Vector512.Load(pi + h2 + j)));
                        r.Store(g + j);
                        z.Store(g + h1 + j);
                        n.Store(g + h2 + j);
                        SimdMath.MultiplyAdd(z, Vector512.Load(hp + j) - n, n).Store(ho + j);
                    }
                }
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; j <= hidden - 8; j += 8)
                    {
                        var r = SimdMath.Sigmoid(Vector256.Load(pi + j) + Vector256.Load(ph + j));
                        var z = SimdMath.Sigmoid(Vector256.Load(pi + h1 + j) + Vector256.Load(ph + h1 + j));
                        var n = SimdMath.Tanh(SimdMath.MultiplyAdd(r, Vector256.Load(ph + h2 + j), Vector256.Load(pi + h2 + j)));
                        r.Store(g + j);
                        z.Store(g + h1 + j);
                        n.Store(g + h2 + j);
                        SimdMath.MultiplyAdd(z, Vector256.Load(hp + j) - n, n).Store(ho + j);
                    }
                }
                for (; j < hidden; j++)
                {
                    float r = g[j] = SimdMath.Sigmoid(pi[j] + ph[j]);
                    float z = g[h1 + j] = SimdMath.Sigmoid(pi[h1 + j] + ph[h1 + j]);
                    float n = g[h2 + j] = SimdMath.Tanh(pi[h2 + j] + r * ph[h2 + j]);
                    ho[j] = n + z * (hp[j] - n);
                }
            }
        }
    }

    /// <summary>dGi and dGh in one pass (equal but for the n block, where dGh_n = dGi_n r); dhPrev += z dh.</summary>
    protected override void GruCellBackwardCore(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden) =>
        ParallelFor(new GruBackwardBody(Ptr(gates), Ptr(gh), Ptr(hPrev), Ptr(dh), Ptr(dGi), Ptr(dGh), Ptr(dhPrev), hidden), batch, RowGrain(3 * hidden));

    /// <summary>h = (1 - z) n + z hPrev; n = tanh(gi_n + r gh_n); r and z are sigmoids of gi + gh.</summary>
    private readonly struct GruBackwardBody(float* gates, float* gh, float* hPrev, float* dh, float* dGi, float* dGh, float* dhPrev, int hidden) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            for (long b = start; b < end; b++)
            {
                long row = b * hidden;
                float* g = gates + 3 * row, ghn = gh + 3 * row + 2 * hidden, di = dGi + 3 * row, dg = dGh + 3 * row; // [3H]
                float* hp = hPrev + row, pdh = dh + row, pdhp = dhPrev + row; // [H]
                int j = 0, h1 = hidden, h2 = 2 * hidden;
                if (SimdTier.Vector512)
                {
                    var one = Vector512<float>.One;
                    for (; j <= hidden - 16; j += 16)
                    {
                        var r = Vector512.Load(g + j);
                        var z = Vector512.Load(g + h1 + j);
                        var n = Vector512.Load(g + h2 + j);
                        var d = Vector512.Load(pdh + j);
                        var dn = d * (one - z) * (one - n * n);
                        var dz = d * (Vector512.Load(hp + j) - n) * z * (one - z);
                        var dr = dn * Vector512.Load(ghn + j) * r * (one - r);
                        dr.Store(di + j);
                        dr.Store(dg + j);
                        dz.Store(di + h1 + j);
                        dz.Store(dg + h1 + j);
                        dn.Store(di + h2 + j);
                        (dn * r).Store(dg + h2 + j);
                        SimdMath.MultiplyAdd(d, z, Vector512.Load(pdhp + j)).Store(pdhp + j);
                    }
                }
                if (Vector256.IsHardwareAccelerated)
                {
                    var one = Vector256<float>.One;
                    for (; j <= hidden - 8; j += 8)
                    {
                        var r = Vector256.Load(g + j);
                        var z = Vector256.Load(g + h1 + j);
                        var n = Vector256.Load(g + h2 + j);
                        var d = Vector256.Load(pdh + j);
                        var dn = d * (one - z) * (one - n * n);
                        var dz = d * (Vector256.Load(hp + j) - n) * z * (one - z);
                        var dr = dn * Vector256.Load(ghn + j) * r * (one - r);
                        dr.Store(di + j);
                        dr.Store(dg + j);
                        dz.Store(di + h1 + j);
                        dz.Store(dg + h1 + j);
                        dn.Store(di + h2 + j);
                        (dn * r).Store(dg + h2 + j);
                        SimdMath.MultiplyAdd(d, z, Vector256.Load(pdhp + j)).Store(pdhp + j);
                    }
                }
                for (; j < hidden; j++)
                {
                    float r = g[j], z = g[h1 + j], n = g[h2 + j], d = pdh[j];
                    float dn = d * (1 - z) * (1 - n * n);
                    float dz = d * (hp[j] - n) * z * (1 - z);
                    float dr = dn * ghn[j] * r * (1 - r);
                    di[j] = dg[j] = dr;
                    di[h1 + j] = dg[h1 + j] = dz;
                    di[h2 + j] = dn;
                    dg[h2 + j] = dn * r;
                    pdhp[j] += d * z;
                }
            }
        }
    }

    protected override void LayerNormForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, double eps) =>
        ParallelFor(new LayerNormForwardBody(Ptr(x), Ptr(weight), Ptr(bias), Ptr(y), Ptr(mean), Ptr(rstd), cols, eps), rows, RowGrain(cols));

    private readonly struct LayerNormForwardBody(float* x, float* pw, float* pb, float* y, float* pmean, float* prstd, int cols, double eps) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            for (long r = start; r < end; r++)
            {
                float* xr = x + r * cols, yr = y + r * cols;
                float mu = TensorPrimitives.Sum(new ReadOnlySpan<float>(xr, cols)) / cols;
                // Two passes (mean, then squared deviations) as the reference, not E[x^2] - mean^2, which cancels.
                float rs = (float)(1 / Math.Sqrt(Elementwise.Sum(new SquaredDeviationOperator(mu), xr, cols) / cols + eps));
                pmean[r] = mu;
                prstd[r] = rs;
                Elementwise.Map(new NormalizeOperator(mu, rs), xr, pw, pb, yr, cols);
            }
        }
    }

    /// <summary>(x - mean)^2.</summary>
    private readonly struct SquaredDeviationOperator(float mean) : IUnaryOperator
    {
        public float Invoke(float x) => (x - mean) * (x - mean);

        public Vector128<float> Invoke(Vector128<float> x) => (x - Vector128.Create(mean)) * (x - Vector128.Create(mean));

        public Vector256<float> Invoke(Vector256<float> x) => (x - Vector256.Create(mean)) * (x - Vector256.Create(mean));

        public Vector512<float> Invoke(Vector512<float> x) => (x - Vector512.Create(mean)) * (x - Vector512.Create(mean));
    }

    /// <summary>y = (x - mean) rstd weight + bias (x, weight, bias): LayerNorm's output.</summary>
    private readonly struct NormalizeOperator(float mean, float rstd) : ITernaryOperator
    {
        public float Invoke(float x, float w, float b) => (x - mean) * rstd * w + b;

        public Vector128<float> Invoke(Vector128<float> x, Vector128<float> w, Vector128<float> b) =>
            SimdMath.MultiplyAdd((x - Vector128.Create(mean)) * Vector128.Create(rstd), w, b);

        public Vector256<float> Invoke(Vector256<float> x, Vector256<float> w, Vector256<float> b) =>
            SimdMath.MultiplyAdd((x - Vector256.Create(mean)) * Vector256.Create(rstd), w, b);

        public Vector512<float> Invoke(Vector512<float> x, Vector512<float> w, Vector512<float> b) =>
            SimdMath.MultiplyAdd((x - Vector512.Create(mean)) * Vector512.Create(rstd), w, b);
    }

    /// <summary>dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with xhat = (x - mean) rstd, dxhat = dy weight; dWeight, dBias summed over rows.</summary>
    protected override void LayerNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols)
    {
        float* pw = Ptr(weight), pdw = Ptr(dWeight), pdb = Ptr(dBias), pmean = Ptr(mean), prstd = Ptr(rstd);
        new Span<float>(pdw, cols).Clear();
        new Span<float>(pdb, cols).Clear();
        for (int r = 0; r < rows; r++)
        {
            float* dyr = Ptr(dy) + (long)r * cols, xr = Ptr(x) + (long)r * cols, dxr = Ptr(dx) + (long)r * cols;
            float mu = pmean[r], rs = prstd[r];
            float sumDxhat = 0, sumDxhatXhat = 0;
            int j = 0;
            if (SimdTier.Vector512)
            {
                Vector512<float> vmu = Vector512.Create(mu), vrs = Vector512.Create(rs), s1 = default, s2 = default;
                for (; j <= cols - 16; j += 16)
                {
                    var xhat = (Vector512.Load(xr + j) - vmu) * vrs;
                    var dyj = Vector512.Load(dyr + j);
                    var dxhat = dyj * Vector512.Load(pw + j);
                    s1 += dxhat;
                    s2 = SimdMath.MultiplyAdd(dxhat, xhat, s2);
                    SimdMath.MultiplyAdd(dyj, xhat, Vector512.Load(pdw + j)).Store(pdw + j);
                    (Vector512.Load(pdb + j) + dyj).Store(pdb + j);
                }
                sumDxhat = SimdMath.Sum(s1);
                sumDxhatXhat = SimdMath.Sum(s2);
            }
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> vmu = Vector256.Create(mu), vrs = Vector256.Create(rs), s1 = default, s2 = default;
                for (; j <= cols - 8; j += 8)
                {
                    var xhat = (Vector256.Load(xr + j) - vmu) * vrs;
                    var dyj = Vector256.Load(dyr + j);
                    var dxhat = dyj * Vector256.Load(pw + j);
                    s1 += dxhat;
                    s2 = SimdMath.MultiplyAdd(dxhat, xhat, s2);
                    SimdMath.MultiplyAdd(dyj, xhat, Vector256.Load(pdw + j)).Store(pdw + j);
                    (Vector256.Load(pdb + j) + dyj).Store(pdb + j);
                }
                sumDxhat += SimdMath.Sum(s1);
                sumDxhatXhat += SimdMath.Sum(s2);
            }
            for (; j < cols; j++)
            {
                float xhat = (xr[j] - mu) * rs, dxhat = dyr[j] * pw[j];
                sumDxhat += dxhat;
                sumDxhatXhat += dxhat * xhat;
                pdw[j] += dyr[j] * xhat;
                pdb[j] += dyr[j];
            }
            float meanDxhat = sumDxhat / cols, meanDxhatXhat = sumDxhatXhat / cols;
            Elementwise.Map(new LayerNormGradientOperator(mu, rs, meanDxhat, meanDxhatXhat), xr, dyr, pw, dxr, cols);
        }
    }

    /// <summary>dx = rstd (dy weight - mean(dxhat) - xhat mean(dxhat xhat)) (x, dy, weight), xhat = (x - mean) rstd.</summary>
    private readonly struct LayerNormGradientOperator(float mean, float rstd, float meanDxhat, float meanDxhatXhat) : ITernaryOperator
    {
        public float Invoke(float x, float dy, float w) => rstd * (dy * w - meanDxhat - (x - mean) * rstd * meanDxhatXhat);

        public Vector128<float> Invoke(Vector128<float> x, Vector128<float> dy, Vector128<float> w) =>
            Vector128.Create(rstd) * (dy * w - Vector128.Create(meanDxhat) - (x - Vector128.Create(mean)) * Vector128.Create(rstd) * Vector128.Create(meanDxhatXhat));

        public Vector256<float> Invoke(Vector256<float> x, Vector256<float> dy, Vector256<float> w) =>
            Vector256.Create(rstd) * (dy * w - Vector256.Create(meanDxhat) - (x - Vector256.Create(mean)) * Vector256.Create(rstd) * Vector256.Create(meanDxhatXhat));

        public Vector512<float> Invoke(Vector512<float> x, Vector512<float> dy, Vector512<float> w) =>
            Vector512.Create(rstd) * (dy * w - Vector512.Create(meanDxhat) - (x - Vector512.Create(mean)) * Vector512.Create(rstd) * Vector512.Create(meanDxhatXhat));
    }

    protected override void AttentionForwardCore(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s) =>
        RunAttention(false, Ptr(qkv), Ptr(y), Ptr(probabilities), null, s);

    protected override void AttentionBackwardCore(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s) =>
        RunAttention(true, Ptr(qkv), Ptr(dy), Ptr(probabilities), Ptr(dQkv), s);

    private void RunAttention(bool backward, float* qkv, float* y, float* probabilities, float* dQkv, AttentionShape s)
    {
        var job = _attentionJob;
        job.Backward = backward;
        job.Shape = s;
        job.Qkv = qkv;
        job.Y = y;
        job.Probabilities = probabilities;
        job.DQkv = dQkv;
        _pool.Run(job, s.Batch * s.Heads);
    }

    /// <summary>
    /// One (batch, head) pair per item, as GEMMs over the head's strided slices of qkv [B, T, 3C]:
    /// forward S = scale Q K^T, P = causal softmax(S), Y = P V; backward dP = dY V^T, dV = P^T dY,
    /// dS = P (dP - rowsum(P dP)) scale, dQ = dS K, dK = dS^T Q. Every slice of dQkv belongs to one item and is overwritten.
    /// </summary>
    private sealed class AttentionJob(CpuSimdBackend backend) : ParallelJob
    {
        public bool Backward;
        public float* Qkv, Y, Probabilities, DQkv; // Y is dy in the backward pass
        public AttentionShape Shape;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Execute(int item, int worker)
        {
            var s = Shape;
            var scratch = backend._scratch[worker];
            int b = item / s.Heads, h = item % s.Heads, t = s.T, hd = s.HeadSize, c = s.Channels, ld = 3 * c;
            float scale = (float)(1 / Math.Sqrt(hd));
            long qOffset = (long)b * t * ld + h * hd, yOffset = (long)b * t * c + h * hd;
            float* q = Qkv + qOffset, k = q + c, v = q + 2 * c, y = Y + yOffset; // [T, hd] with row strides ld, ld, ld, C
            float* p = Probabilities + (long)item * t * t; // [T, T]
            if (!Backward)
            {
                Sgemm.Multiply(false, true, t, t, hd, q, ld, k, ld, p, t, scale, false, scratch);
                for (int row = 0; row < t; row++)
                {
                    // Query row sees keys 0..row; the later ones get probability exactly 0.
                    Softmax(new Span<float>(p + (long)row * t, row + 1));
                    new Span<float>(p + (long)row * t + row + 1, t - row - 1).Clear();
                }
                Sgemm.Multiply(false, false, t, hd, t, p, t, v, ld, y, c, 1, false, scratch);
                return;
            }
            float* dq = DQkv + qOffset, dk = dq + c, dv = dq + 2 * c;
            float* dp = scratch.Columns.Get((long)t * t); // [T, T]: dP, then dS in place
            Sgemm.Multiply(false, true, t, t, hd, y, c, v, ld, dp, t, 1, false, scratch);
            Sgemm.Multiply(true, false, t, hd, t, p, t, y, c, dv, ld, 1, false, scratch);
            for (int row = 0; row < t; row++)
            {
                var pr = new ReadOnlySpan<float>(p + (long)row * t, row + 1);
                var dr = new Span<float>(dp + (long)row * t, t);
                float pDotDp = TensorPrimitives.Dot(pr, dr[..(row + 1)]);
                TensorPrimitives.Subtract(dr[..(row + 1)], pDotDp, dr[..(row + 1)]);
                TensorPrimitives.Multiply(dr[..(row + 1)], pr, dr[..(row + 1)]);
                TensorPrimitives.Multiply(dr[..(row + 1)], scale, dr[..(row + 1)]);
                dr[(row + 1)..].Clear();
            }
            Sgemm.Multiply(false, false, t, hd, t, dp, t, k, ld, dq, ld, 1, false, scratch);
            Sgemm.Multiply(true, false, t, hd, t, dp, t, q, ld, dk, ld, 1, false, scratch);
        }
    }

    /// <summary>Softmax in place; returns log(sum(exp(row))) of the input. The row maximum is subtracted first so that exp cannot overflow.</summary>
    private static double Softmax(Span<float> row)
    {
        float max = TensorPrimitives.Max(row);
        float sum;
        fixed (float* p = row)
            sum = ExpShiftedAndSum(p, max, row.Length);
        TensorPrimitives.Multiply(row, 1 / sum, row);
        return max + Math.Log(sum);
    }

    /// <summary>x[i] = exp(x[i] - shift) in place, in one pass that also returns the sum.</summary>
    private static float ExpShiftedAndSum(float* x, float shift, int n) => Elementwise.MapSum(new ExpShiftedOperator(shift), x, x, n);

    protected override void SoftmaxCrossEntropyCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView loss, DeviceView dLogits, int rows, int classes)
    {
        double* rowLoss = (double*)_scratch[0].Partial.Get(2L * rows); // [rows]
        ParallelFor(new SoftmaxCrossEntropyBody(Ptr(logits), Ptr(targets), Ptr(dLogits), rowLoss, classes, rows), rows, RowGrain(4L * classes));
        // Added in row order, so the loss does not depend on how the rows were shared out.
        double total = 0;
        for (int r = 0; r < rows; r++)
            total += rowLoss[r];
        *Ptr(loss) = (float)(total / rows);
    }

    /// <summary>
    /// Rows [start, end): dLogits = (softmax(logits) - onehot(target)) / rows, computed in dLogits' row; rowLoss = -log p[target] =
    /// logsumexp(logits) - logits[target], finite where p[target] underflows to 0.
    /// </summary>
    private readonly struct SoftmaxCrossEntropyBody(float* logits, int* targets, float* dLogits, double* rowLoss, int classes, int rows) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end)
        {
            float inverseRows = 1f / rows;
            for (long r = start; r < end; r++)
            {
                var d = new Span<float>(dLogits + r * classes, classes);
                new ReadOnlySpan<float>(logits + r * classes, classes).CopyTo(d);
                int target = targets[r];
                rowLoss[r] = Softmax(d) - logits[r * classes + target];
                float p = d[target];
                TensorPrimitives.Multiply(d, inverseRows, d);
                d[target] = (p - 1) * inverseRows;
            }
        }
    }
}
