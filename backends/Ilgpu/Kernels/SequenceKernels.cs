using ILGPU;
using ILGPU.Algorithms;

namespace KernelLab.Backends.Ilgpu.Kernels;

/// <summary>Embedding, the LSTM and GRU cells and causal self-attention.</summary>
internal static class SequenceKernels
{
    /// <summary>y [count, dim] = the rows of table [vocab, dim] that ids pick: one thread per element of y.</summary>
    public static void EmbeddingForward(Index1D idx, ArrayView<int> ids, ArrayView<float> table, ArrayView<float> y, int dim) =>
        y[idx] = table[(long)ids[idx / dim] * dim + idx % dim];

    /// <summary>
    /// dTable [vocab, dim] += the rows of dy [count, dim] whose id is the row's: one thread per element of dTable, scanning
    /// the ids, so that repeated ids are summed without atomics and in a fixed order (the result is the same every run).
    /// </summary>
    public static void EmbeddingBackward(Index1D idx, ArrayView<int> ids, ArrayView<float> dy, ArrayView<float> dTable, int count, int dim)
    {
        int v = idx / dim, d = idx % dim;
        float sum = 0.0f;
        for (int i = 0; i < count; i++)
            if (ids[i] == v)
                sum += dy[(long)i * dim + d];
        dTable[idx] += sum;
    }

    /// <summary>Gate g (i, f, g, o) of element j of row b in a [batch, 4*hidden] tensor.</summary>
    private static int Gate(int b, int g, int j, int hidden) => (b * 4 + g) * hidden + j;

    /// <summary>One thread per (b, j) of [batch, hidden].</summary>
    public static void LstmCellForward(Index1D idx, ArrayView<float> preact, ArrayView<float> cPrev, ArrayView<float> gates,
        ArrayView<float> c, ArrayView<float> h, int hidden)
    {
        int b = idx / hidden, j = idx % hidden;
        float i = ElementwiseKernels.SigmoidOf(preact[Gate(b, 0, j, hidden)]);
        float f = ElementwiseKernels.SigmoidOf(preact[Gate(b, 1, j, hidden)]);
        float g = XMath.Tanh(preact[Gate(b, 2, j, hidden)]);
        float o = ElementwiseKernels.SigmoidOf(preact[Gate(b, 3, j, hidden)]);
        gates[Gate(b, 0, j, hidden)] = i;
        gates[Gate(b, 1, j, hidden)] = f;
        gates[Gate(b, 2, j, hidden)] = g;
        gates[Gate(b, 3, j, hidden)] = o;
        float cell = f * cPrev[idx] + i * g;
        c[idx] = cell;
        h[idx] = o * XMath.Tanh(cell);
    }

    /// <summary>dcPrev may be dc: each thread reads its dc before writing its dcPrev.</summary>
    public static void LstmCellBackward(Index1D idx, ArrayView<float> gates, ArrayView<float> cPrev, ArrayView<float> c, ArrayView<float> dh,
        ArrayView<float> dc, ArrayView<float> dPreact, ArrayView<float> dcPrev, int hidden)
    {
        int b = idx / hidden, j = idx % hidden;
        float i = gates[Gate(b, 0, j, hidden)], f = gates[Gate(b, 1, j, hidden)];
        float g = gates[Gate(b, 2, j, hidden)], o = gates[Gate(b, 3, j, hidden)];
        float tanhC = XMath.Tanh(c[idx]);
        float dhv = dh[idx];
        float dcTotal = dc[idx] + dhv * o * (1.0f - tanhC * tanhC);
        dcPrev[idx] = dcTotal * f;
        dPreact[Gate(b, 0, j, hidden)] = dcTotal * g * i * (1.0f - i);
        dPreact[Gate(b, 1, j, hidden)] = dcTotal * cPrev[idx] * f * (1.0f - f);
        dPreact[Gate(b, 2, j, hidden)] = dcTotal * i * (1.0f - g * g);
        dPreact[Gate(b, 3, j, hidden)] = dhv * tanhC * o * (1.0f - o);
    }

    /// <summary>Gate g (r, z, n) of element j of row b in a [batch, 3*hidden] tensor.</summary>
    private static int GruGate(int b, int g, int j, int hidden) => (b * 3 + g) * hidden + j;

    /// <summary>One thread per (b, j) of [batch, hidden]: h = (1 - z) n + z hPrev, computed as n + z (hPrev - n).</summary>
    public static void GruCellForward(Index1D idx, ArrayView<float> gi, ArrayView<float> gh, ArrayView<float> hPrev, ArrayView<float> gates,
        ArrayView<float> h, int hidden)
    {
        int b = idx / hidden, j = idx % hidden;
        int ir = GruGate(b, 0, j, hidden), iz = GruGate(b, 1, j, hidden), iN = GruGate(b, 2, j, hidden);
        float r = ElementwiseKernels.SigmoidOf(gi[ir] + gh[ir]);
        float z = ElementwiseKernels.SigmoidOf(gi[iz] + gh[iz]);
        float n = XMath.Tanh(gi[iN] + r * gh[iN]);
        gates[ir] = r;
        gates[iz] = z;
        gates[iN] = n;
        h[idx] = n + z * (hPrev[idx] - n);
    }

    /// <summary>dGi and dGh (equal but for the n block, where dGh_n = dGi_n r); dhPrev += z dh.</summary>
    public static void GruCellBackward(Index1D idx, ArrayView<float> gates, ArrayView<float> gh, ArrayView<float> hPrev, ArrayView<float> dh,
        ArrayView<float> dGi, ArrayView<float> dGh, ArrayView<float> dhPrev, int hidden)
    {
        int b = idx / hidden, j = idx % hidden;
        int ir = GruGate(b, 0, j, hidden), iz = GruGate(b, 1, j, hidden), iN = GruGate(b, 2, j, hidden);
        float r = gates[ir], z = gates[iz], n = gates[iN], d = dh[idx];
        float dn = d * (1.0f - z) * (1.0f - n * n);
        float dz = d * (hPrev[idx] - n) * z * (1.0f - z);
        float dr = dn * gh[iN] * r * (1.0f - r);
        dGi[ir] = dr;
        dGh[ir] = dr;
        dGi[iz] = dz;
        dGh[iz] = dz;
        dGi[iN] = dn;
        dGh[iN] = dn * r;
        dhPrev[idx] += d * z;
    }

    /// <summary>Start of head h's features of position t in the q (third 0), k (1) or v (2) third of qkv [B, T, 3C].</summary>
    private static long Qkv(AttentionArgs s, int b, int t, int third, int h) => ((long)b * s.T + t) * 3 * s.C + third * s.C + h * s.HeadSize;

    /// <summary>Start of a query's row of probabilities [B, heads, T, T].</summary>
    private static long Prob(AttentionArgs s, int b, int h, int t) => (((long)b * s.Heads + h) * s.T + t) * s.T;

    /// <summary>One group per (b, h, t) query: its scores over keys 0..t in dynamic shared memory p [T], softmax, y = p . v.</summary>
    public static void AttentionForward(ArrayView<float> qkv, ArrayView<float> y, ArrayView<float> probabilities, AttentionArgs s)
    {
        var p = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, lid = Group.IdxX, threads = Group.DimX;
        int t = row % s.T, h = row / s.T % s.Heads, b = row / (s.T * s.Heads);
        long q = Qkv(s, b, t, 0, h);

        float localMax = float.NegativeInfinity;
        for (int u = lid; u <= t; u += threads)
        {
            long k = Qkv(s, b, u, 1, h);
            float dot = 0.0f;
            for (int d = 0; d < s.HeadSize; d++)
                dot += qkv[q + d] * qkv[k + d];
            p[u] = s.Scale * dot;
            localMax = XMath.Max(localMax, p[u]);
        }
        float max = GroupReduce.Max(localMax);

        float localSum = 0.0f;
        for (int u = lid; u <= t; u += threads)
        {
            p[u] = XMath.Exp(p[u] - max);
            localSum += p[u];
        }
        float sum = GroupReduce.Sum(localSum);

        long prow = Prob(s, b, h, t);
        for (int u = lid; u < s.T; u += threads)
        {
            float pu = u <= t ? p[u] / sum : 0.0f; // masked keys get exactly 0
            if (u <= t)
                p[u] = pu;
            probabilities[prow + u] = pu;
        }
        Group.Barrier();

        for (int d = lid; d < s.HeadSize; d += threads)
        {
            float acc = 0.0f;
            for (int u = 0; u <= t; u++)
                acc += p[u] * qkv[Qkv(s, b, u, 2, h) + d];
            y[((long)b * s.T + t) * s.C + h * s.HeadSize + d] = acc;
        }
    }

    /// <summary>
    /// dScore [B, heads, T, T], one group per query: dp[u] = dy . v[u]; dScore[u] = p[u] (dp[u] - sum p dp) scale (0 for
    /// masked keys). dp is held in dynamic shared memory [T].
    /// </summary>
    public static void AttentionBackwardScores(ArrayView<float> dy, ArrayView<float> qkv, ArrayView<float> probabilities, ArrayView<float> dScore, AttentionArgs s)
    {
        var dp = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, lid = Group.IdxX, threads = Group.DimX;
        int t = row % s.T, h = row / s.T % s.Heads, b = row / (s.T * s.Heads);
        long dyh = ((long)b * s.T + t) * s.C + h * s.HeadSize;
        long prow = Prob(s, b, h, t);

        float localDot = 0.0f;
        for (int u = lid; u <= t; u += threads)
        {
            long v = Qkv(s, b, u, 2, h);
            float dot = 0.0f;
            for (int d = 0; d < s.HeadSize; d++)
                dot += dy[dyh + d] * qkv[v + d];
            dp[u] = dot;
            localDot += probabilities[prow + u] * dot;
        }
        float pDotDp = GroupReduce.Sum(localDot);

        for (int u = lid; u < s.T; u += threads)
            dScore[prow + u] = u <= t ? probabilities[prow + u] * (dp[u] - pDotDp) * s.Scale : 0.0f;
    }

    /// <summary>
    /// dQkv [B, T, 3C], one thread per element, so that keys and values gather the gradient of every query that saw them
    /// without atomics: dq[t] = sum over u &lt;= t of dScore[t, u] k[u]; dk[u] = sum over t &gt;= u of dScore[t, u] q[t];
    /// dv[u] = sum over t &gt;= u of p[t, u] dy[t].
    /// </summary>
    public static void AttentionBackwardQkv(Index1D idx, ArrayView<float> dy, ArrayView<float> qkv, ArrayView<float> probabilities,
        ArrayView<float> dScore, ArrayView<float> dQkv, AttentionArgs s)
    {
        int f = idx % (3 * s.C), t = idx / (3 * s.C) % s.T, b = idx / (3 * s.C * s.T);
        int third = f / s.C, h = f % s.C / s.HeadSize, d = f % s.HeadSize;
        float sum = 0.0f;
        if (third == 0)
        {
            for (int u = 0; u <= t; u++)
                sum += dScore[Prob(s, b, h, t) + u] * qkv[Qkv(s, b, u, 1, h) + d];
        }
        else if (third == 1)
        {
            for (int q = t; q < s.T; q++)
                sum += dScore[Prob(s, b, h, q) + t] * qkv[Qkv(s, b, q, 0, h) + d];
        }
        else
        {
            for (int q = t; q < s.T; q++)
                sum += probabilities[Prob(s, b, h, q) + t] * dy[((long)b * s.T + q) * s.C + h * s.HeadSize + d];
        }
        dQkv[idx] = sum;
    }
}

/// <summary>The attention's sizes and score scale (1/sqrt(head size)), passed as one kernel argument.</summary>
internal struct AttentionArgs
{
    public int T, C, Heads, HeadSize;
    public float Scale;
}
