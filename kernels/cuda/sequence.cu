// Embedding, the LSTM cell and causal multi-head self-attention.
#include "common.cuh"

// y[i, :] = table[ids[i], :]; n = count * dim.
extern "C" __global__ void embedding_forward(const int* ids, const float* table, float* y, int dim, long long n)
{
    GRID_STRIDE(at, n)
        y[at] = table[(long long)ids[at / dim] * dim + at % dim];
}

// dTable[ids[i], :] += dy[i, :]; n = count * dim. An id that occurs several times collects every row's gradient.
extern "C" __global__ void embedding_backward(const int* ids, const float* dy, float* dTable, int dim, long long n)
{
    GRID_STRIDE(at, n)
        atomicAdd(&dTable[(long long)ids[at / dim] * dim + at % dim], dy[at]);
}

// Gate blocks of an LSTM row [4 * hidden], in PyTorch's order i, f, g, o.
#define GATE(b, gate, j, hidden) (((long long)(b) * 4 + (gate)) * (hidden) + (j))

// One thread per (b, j): gates receive sigmoid, sigmoid, tanh, sigmoid of preact; c = f*cPrev + i*g; h = o*tanh(c).
extern "C" __global__ void lstm_cell_forward(const float* preact, const float* cPrev, float* gates, float* c, float* h,
                                             int batch, int hidden)
{
    GRID_STRIDE(bj, (long long)batch * hidden)
    {
        int b = (int)(bj / hidden), j = (int)(bj % hidden);
        long long gi = GATE(b, 0, j, hidden), gf = GATE(b, 1, j, hidden), gg = GATE(b, 2, j, hidden), go = GATE(b, 3, j, hidden);
        float i = gates[gi] = sigmoid(preact[gi]);
        float f = gates[gf] = sigmoid(preact[gf]);
        float g = gates[gg] = tanhf(preact[gg]);
        float o = gates[go] = sigmoid(preact[go]);
        float cell = f * cPrev[bj] + i * g;
        c[bj] = cell;
        h[bj] = o * tanhf(cell);
    }
}

// dcPrev may be dc: each thread reads its dc before writing its dcPrev.
extern "C" __global__ void lstm_cell_backward(const float* gates, const float* cPrev, const float* c, const float* dh,
                                              const float* dc, float* dPreact, float* dcPrev, int batch, int hidden)
{
    GRID_STRIDE(bj, (long long)batch * hidden)
    {
        int b = (int)(bj / hidden), j = (int)(bj % hidden);
        long long gi = GATE(b, 0, j, hidden), gf = GATE(b, 1, j, hidden), gg = GATE(b, 2, j, hidden), go = GATE(b, 3, j, hidden);
        float i = gates[gi], f = gates[gf], g = gates[gg], o = gates[go];
        float tanhC = tanhf(c[bj]);
        float dcTotal = dc[bj] + dh[bj] * o * (1.0f - tanhC * tanhC);
        float cp = cPrev[bj];
        dcPrev[bj] = dcTotal * f;
        dPreact[gi] = dcTotal * g * i * (1.0f - i);
        dPreact[gf] = dcTotal * cp * f * (1.0f - f);
        dPreact[gg] = dcTotal * i * (1.0f - g * g);
        dPreact[go] = dh[bj] * tanhC * o * (1.0f - o);
    }
}

// Attention layout: qkv [B, T, 3C] with q, k, v thirds along features, head h at features [h*hd, (h+1)*hd) of each third;
// y [B, T, C]; probabilities [B, heads, T, T]. Both kernels take one block (a multiple of 32 threads) per (b, h, query t):
// grid B * heads * T.
#define QKV(b, t, third, h) ((((long long)(b) * T + (t)) * 3 + (third)) * channels + (long long)(h) * hd)

extern "C" __global__ void attention_forward(const float* qkv, float* y, float* probabilities, int T, int channels, int heads, float scale)
{
    const int hd = channels / heads;
    const int t = blockIdx.x % T, h = blockIdx.x / T % heads, b = blockIdx.x / (T * heads);
    const float* q = qkv + QKV(b, t, 0, h);
    float* p = probabilities + ((long long)blockIdx.x) * T; // blockIdx.x = (b * heads + h) * T + t
    // Causal: query t sees keys 0..t; the later ones get probability exactly 0.
    float max = NEGATIVE_INFINITY;
    for (int u = threadIdx.x; u <= t; u += blockDim.x)
    {
        const float* k = qkv + QKV(b, u, 1, h);
        float dot = 0.0f;
        for (int d = 0; d < hd; d++)
            dot += q[d] * k[d];
        p[u] = scale * dot;
        max = fmaxf(max, p[u]);
    }
    max = block_max(max);
    float sum = 0.0f;
    for (int u = threadIdx.x; u < T; u += blockDim.x)
    {
        float e = u <= t ? expf(p[u] - max) : 0.0f;
        p[u] = e;
        sum += e;
    }
    sum = block_sum(sum);
    for (int u = threadIdx.x; u <= t; u += blockDim.x)
        p[u] /= sum;
    __syncthreads(); // the row of p, written by every thread of the block, is read whole below
    for (int d = threadIdx.x; d < hd; d += blockDim.x)
    {
        float acc = 0.0f;
        for (int u = 0; u <= t; u++)
            acc += p[u] * qkv[QKV(b, u, 2, h) + d];
        y[((long long)b * T + t) * channels + (long long)h * hd + d] = acc;
    }
}

// dQkv must be zero before the launch: keys and values collect gradient from every query that sees them (atomically);
// a query's dq is written by its own block alone. Dynamic shared memory: T floats.
extern "C" __global__ void attention_backward(const float* dy, const float* qkv, const float* probabilities, float* dQkv,
                                              int T, int channels, int heads, float scale)
{
    extern __shared__ float dScore[]; // [T]: first the gradient of the probabilities, then of the scaled scores
    const int hd = channels / heads;
    const int t = blockIdx.x % T, h = blockIdx.x / T % heads, b = blockIdx.x / (T * heads);
    const float* p = probabilities + ((long long)blockIdx.x) * T;
    const float* dyh = dy + ((long long)b * T + t) * channels + (long long)h * hd;
    const float* q = qkv + QKV(b, t, 0, h);

    // y = sum over u of p[u] v[u]: dp[u] = dy . v[u]; masked keys (u > t) have p = 0 and take no gradient.
    float pDotDp = 0.0f;
    for (int u = threadIdx.x; u <= t; u += blockDim.x)
    {
        const float* v = qkv + QKV(b, u, 2, h);
        float dot = 0.0f;
        for (int d = 0; d < hd; d++)
            dot += dyh[d] * v[d];
        dScore[u] = dot;
        pDotDp += p[u] * dot;
    }
    pDotDp = block_sum(pDotDp);
    // Through the softmax, dscore[u] = p[u] (dp[u] - sum p dp); then score = scale q.k.
    for (int u = threadIdx.x; u <= t; u += blockDim.x)
        dScore[u] = p[u] * (dScore[u] - pDotDp) * scale;
    __syncthreads();

    for (long long e = threadIdx.x; e < (long long)(t + 1) * hd; e += blockDim.x)
    {
        int u = (int)(e / hd), d = (int)(e % hd);
        atomicAdd(&dQkv[QKV(b, u, 2, h) + d], p[u] * dyh[d]);
        atomicAdd(&dQkv[QKV(b, u, 1, h) + d], dScore[u] * q[d]);
    }
    for (int d = threadIdx.x; d < hd; d += blockDim.x)
    {
        float acc = 0.0f;
        for (int u = 0; u <= t; u++)
            acc += dScore[u] * qkv[QKV(b, u, 1, h) + d];
        dQkv[QKV(b, t, 0, h) + d] = acc;
    }
}
