// Embedding, the LSTM and GRU cells and causal self-attention.

// y [count, dim] = table [vocab, dim] rows picked by ids: one work-item per element of y.
__kernel void embedding_forward(__global const int* ids, __global const float* table, int to, __global float* y, int yo,
                                int count, int dim)
{
    int idx = get_global_id(0);
    if (idx < count * dim)
        y[yo + idx] = table[to + ids[idx / dim] * dim + idx % dim];
}

// dTable [vocab, dim] += the rows of dy [count, dim] whose id is the row's: one work-item per element of dTable,
// scanning the ids, so that repeated ids are summed without races or atomics (and in a fixed order).
__kernel void embedding_backward(__global const int* ids, __global const float* dy, int dyo, __global float* dTable, int dto,
                                 int count, int vocab, int dim)
{
    int idx = get_global_id(0);
    if (idx >= vocab * dim)
        return;
    int v = idx / dim, d = idx % dim;
    float sum = 0.0f;
    for (int i = 0; i < count; i++)
        if (ids[i] == v)
            sum += dy[dyo + i * dim + d];
    dTable[dto + idx] += sum;
}

float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

// Gate g (i, f, g, o) of element j of row b in a [batch, 4*hidden] tensor.
#define GATE(b, g, j) (((b) * 4 + (g)) * hidden + (j))

// One work-item per (b, j) of [batch, hidden].
__kernel void lstm_cell_forward(__global const float* preact, int po, __global const float* cPrev, int cpo,
                                __global float* gates, int go, __global float* c, int co, __global float* h, int ho,
                                int batch, int hidden)
{
    int idx = get_global_id(0);
    if (idx >= batch * hidden)
        return;
    int b = idx / hidden, j = idx % hidden;
    float i = sigmoid(preact[po + GATE(b, 0, j)]);
    float f = sigmoid(preact[po + GATE(b, 1, j)]);
    float g = tanh(preact[po + GATE(b, 2, j)]);
    float o = sigmoid(preact[po + GATE(b, 3, j)]);
    gates[go + GATE(b, 0, j)] = i;
    gates[go + GATE(b, 1, j)] = f;
    gates[go + GATE(b, 2, j)] = g;
    gates[go + GATE(b, 3, j)] = o;
    float cell = f * cPrev[cpo + idx] + i * g;
    c[co + idx] = cell;
    h[ho + idx] = o * tanh(cell);
}

// dcPrev may be dc: each work-item reads its dc before writing its dcPrev.
__kernel void lstm_cell_backward(__global const float* gates, int go, __global const float* cPrev, int cpo,
                                 __global const float* c, int co, __global const float* dh, int dho,
                                 __global const float* dc, int dco, __global float* dPreact, int dpo,
                                 __global float* dcPrev, int dcpo, int batch, int hidden)
{
    int idx = get_global_id(0);
    if (idx >= batch * hidden)
        return;
    int b = idx / hidden, j = idx % hidden;
    float i = gates[go + GATE(b, 0, j)], f = gates[go + GATE(b, 1, j)];
    float g = gates[go + GATE(b, 2, j)], o = gates[go + GATE(b, 3, j)];
    float tanhC = tanh(c[co + idx]);
    float dhv = dh[dho + idx];
    float dcTotal = dc[dco + idx] + dhv * o * (1.0f - tanhC * tanhC);
    dcPrev[dcpo + idx] = dcTotal * f;
    dPreact[dpo + GATE(b, 0, j)] = dcTotal * g * i * (1.0f - i);
    dPreact[dpo + GATE(b, 1, j)] = dcTotal * cPrev[cpo + idx] * f * (1.0f - f);
    dPreact[dpo + GATE(b, 2, j)] = dcTotal * i * (1.0f - g * g);
    dPreact[dpo + GATE(b, 3, j)] = dhv * tanhC * o * (1.0f - o);
}

// Gate g (r, z, n) of element j of row b in a [batch, 3*hidden] tensor.
#define GRU_GATE(b, g, j) (((b) * 3 + (g)) * hidden + (j))

// One work-item per (b, j) of [batch, hidden]: r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z),
// n = tanh(gi_n + r * gh_n), h = (1 - z) * n + z * hPrev; gates receive r, z, n.
__kernel void gru_cell_forward(__global const float* gi, int gio, __global const float* gh, int gho, __global const float* hPrev, int hpo,
                               __global float* gates, int go, __global float* h, int ho, int batch, int hidden)
{
    int idx = get_global_id(0);
    if (idx >= batch * hidden)
        return;
    int b = idx / hidden, j = idx % hidden;
    int ir = GRU_GATE(b, 0, j), iz = GRU_GATE(b, 1, j), iN = GRU_GATE(b, 2, j);
    float r = sigmoid(gi[gio + ir] + gh[gho + ir]);
    float z = sigmoid(gi[gio + iz] + gh[gho + iz]);
    float n = tanh(gi[gio + iN] + r * gh[gho + iN]);
    gates[go + ir] = r;
    gates[go + iz] = z;
    gates[go + iN] = n;
    h[ho + idx] = (1.0f - z) * n + z * hPrev[hpo + idx];
}

// dGi and dGh differ in the n block only (dGh_n = dGi_n * r); dhPrev is read: the direct part z * dh is added to it.
__kernel void gru_cell_backward(__global const float* gates, int go, __global const float* gh, int gho, __global const float* hPrev, int hpo,
                                __global const float* dh, int dho, __global float* dGi, int dgio, __global float* dGh, int dgho,
                                __global float* dhPrev, int dhpo, int batch, int hidden)
{
    int idx = get_global_id(0);
    if (idx >= batch * hidden)
        return;
    int b = idx / hidden, j = idx % hidden;
    int ir = GRU_GATE(b, 0, j), iz = GRU_GATE(b, 1, j), iN = GRU_GATE(b, 2, j);
    float r = gates[go + ir], z = gates[go + iz], n = gates[go + iN];
    float d = dh[dho + idx];
    float dnPre = d * (1.0f - z) * (1.0f - n * n);
    float dzPre = d * (hPrev[hpo + idx] - n) * (z * (1.0f - z));
    float drPre = dnPre * gh[gho + iN] * (r * (1.0f - r));
    dGi[dgio + ir] = dGh[dgho + ir] = drPre;
    dGi[dgio + iz] = dGh[dgho + iz] = dzPre;
    dGi[dgio + iN] = dnPre;
    dGh[dgho + iN] = dnPre * r;
    dhPrev[dhpo + idx] += d * z;
}

// qkv [B, T, 3C]: head h of position t uses features [h*hd, (h+1)*hd) of the q, k and v thirds.
#define QKV(b, t, third, h) (qo + ((b) * T + (t)) * 3 * C + (third) * C + (h) * hd)
// A query's row of probabilities [B, heads, T, T].
#define PROB(b, h, t) (((b) * heads + (h)) * T + (t)) * T

// One work-group per (b, h, t) query: scores of keys 0..t in local memory p [T], softmax, y = p . v.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void attention_forward(__global const float* qkv, int qo, __global float* y, int yo, __global float* probabilities, int ppo,
                       __local float* p, int T, int C, int heads, float scale)
{
    __local float scratch[REDUCE_GROUP];
    int hd = C / heads;
    int row = get_group_id(0), lid = get_local_id(0);
    int t = row % T, h = (row / T) % heads, b = row / (T * heads);
    __global const float* q = qkv + QKV(b, t, 0, h);

    float localMax = -INFINITY;
    for (int u = lid; u <= t; u += REDUCE_GROUP)
    {
        __global const float* k = qkv + QKV(b, u, 1, h);
        float s = 0.0f;
        for (int d = 0; d < hd; d++)
            s += q[d] * k[d];
        p[u] = scale * s;
        localMax = fmax(localMax, p[u]);
    }
    float max = group_max(localMax, scratch);

    float localSum = 0.0f;
    for (int u = lid; u <= t; u += REDUCE_GROUP)
    {
        p[u] = exp(p[u] - max);
        localSum += p[u];
    }
    float sum = group_sum(localSum, scratch);

    __global float* prow = probabilities + ppo + PROB(b, h, t);
    for (int u = lid; u < T; u += REDUCE_GROUP)
    {
        float pu = u <= t ? p[u] / sum : 0.0f; // masked keys get exactly 0
        if (u <= t)
            p[u] = pu;
        prow[u] = pu;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    for (int d = lid; d < hd; d += REDUCE_GROUP)
    {
        float acc = 0.0f;
        for (int u = 0; u <= t; u++)
            acc += p[u] * qkv[QKV(b, u, 2, h) + d];
        y[yo + (b * T + t) * C + h * hd + d] = acc;
    }
}

// dScore [B, heads, T, T] of one query per work-group: dp[u] = dy . v[u]; dScore[u] = p[u] (dp[u] - sum p dp) * scale
// (0 for masked keys). dp is held in local memory [T].
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void attention_backward_scores(__global const float* dy, int dyo, __global const float* qkv, int qo,
                               __global const float* probabilities, int ppo, __global float* dScore, int dso,
                               __local float* dp, int T, int C, int heads, float scale)
{
    __local float scratch[REDUCE_GROUP];
    int hd = C / heads;
    int row = get_group_id(0), lid = get_local_id(0);
    int t = row % T, h = (row / T) % heads, b = row / (T * heads);
    __global const float* dyh = dy + dyo + (b * T + t) * C + h * hd;
    __global const float* prow = probabilities + ppo + PROB(b, h, t);

    float localDot = 0.0f;
    for (int u = lid; u <= t; u += REDUCE_GROUP)
    {
        __global const float* v = qkv + QKV(b, u, 2, h);
        float s = 0.0f;
        for (int d = 0; d < hd; d++)
            s += dyh[d] * v[d];
        dp[u] = s;
        localDot += prow[u] * s;
    }
    float pDotDp = group_sum(localDot, scratch);

    for (int u = lid; u < T; u += REDUCE_GROUP)
        dScore[dso + PROB(b, h, t) + u] = u <= t ? prow[u] * (dp[u] - pDotDp) * scale : 0.0f;
}

// dQkv [B, T, 3C], one work-item per element, so keys and values gather the gradient of every query that saw them:
// dq[t] = sum over u <= t of dScore[t, u] k[u]; dk[u] = sum over t >= u of dScore[t, u] q[t];
// dv[u] = sum over t >= u of p[t, u] dy[t].
__kernel void attention_backward_qkv(__global const float* dy, int dyo, __global const float* qkv, int qo,
                                     __global const float* probabilities, int ppo, __global const float* dScore, int dso,
                                     __global float* dQkv, int dqo, int batch, int T, int C, int heads)
{
    int idx = get_global_id(0);
    if (idx >= batch * T * 3 * C)
        return;
    int hd = C / heads;
    int f = idx % (3 * C), t = (idx / (3 * C)) % T, b = idx / (3 * C * T);
    int third = f / C, h = (f % C) / hd, d = f % hd;
    float sum = 0.0f;
    if (third == 0)
    {
        for (int u = 0; u <= t; u++)
            sum += dScore[dso + PROB(b, h, t) + u] * qkv[QKV(b, u, 1, h) + d];
    }
    else if (third == 1)
    {
        for (int s = t; s < T; s++)
            sum += dScore[dso + PROB(b, h, s) + t] * qkv[QKV(b, s, 0, h) + d];
    }
    else
    {
        for (int s = t; s < T; s++)
            sum += probabilities[ppo + PROB(b, h, s) + t] * dy[dyo + (b * T + s) * C + h * hd + d];
    }
    dQkv[dqo + idx] = sum;
}
