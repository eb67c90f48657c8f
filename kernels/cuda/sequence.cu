// Embedding, the LSTM and GRU cells and causal multi-head self-attention.
#include "common.cuh"

// y[i, :] = table[ids[i], :]; n = count * dim.
extern "C" __global__ void embedding_forward(const int* ids, const float* table, float* y, int dim, long long n)
{
    GRID_STRIDE(at, n)
        y[at] = table[(long long)ids[at / dim] * dim + at % dim];
}

#define EMBEDDING_THREADS 256 // the host launches embedding_backward with blocks of this many threads

// dTable[v, :] += dy[i, :] for every token i with ids[i] = v, in token order, as the reference adds them. One block per
// row v of the table, so only it writes the row: it reads the ids a chunk of EMBEDDING_THREADS at a time, lists the
// chunk's tokens of row v in order (a prefix sum of the matches in shared memory), and each thread adds their gradient
// to its columns. Gathered rather than scattered with atomics, so it is the same bits every run. Grid: vocab.
extern "C" __global__ void embedding_backward(const int* ids, const float* dy, float* dTable, int count, int dim)
{
    __shared__ int matchesUpTo[EMBEDDING_THREADS]; // inclusive prefix sum of the chunk's matches
    __shared__ int tokens[EMBEDDING_THREADS];      // the chunk's tokens of row v, in order
    const int v = blockIdx.x, k = threadIdx.x;
    float* row = dTable + (long long)v * dim;
    for (int chunk = 0; chunk < count; chunk += EMBEDDING_THREADS)
    {
        const int i = chunk + k;
        const int match = i < count && ids[i] == v;
        matchesUpTo[k] = match;
        __syncthreads();
        for (int offset = 1; offset < EMBEDDING_THREADS; offset <<= 1)
        {
            int before = k >= offset ? matchesUpTo[k - offset] : 0;
            __syncthreads();
            matchesUpTo[k] += before;
            __syncthreads();
        }
        if (match)
            tokens[matchesUpTo[k] - 1] = i;
        const int matches = matchesUpTo[EMBEDDING_THREADS - 1];
        __syncthreads();
        for (int d = k; d < dim; d += EMBEDDING_THREADS)
        {
            float sum = row[d];
            for (int j = 0; j < matches; j++)
                sum += dy[(long long)tokens[j] * dim + d];
            row[d] = sum;
        }
        __syncthreads(); // the next chunk writes the lists again
    }
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

// Gate blocks of a GRU row [3 * hidden], in PyTorch's order r, z, n.
#define GRU_GATE(b, gate, j, hidden) (((long long)(b) * 3 + (gate)) * (hidden) + (j))

// One thread per (b, j): r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n) into gates;
// h = (1 - z) * n + z * hPrev.
extern "C" __global__ void gru_cell_forward(const float* gi, const float* gh, const float* hPrev, float* gates, float* h,
                                            int batch, int hidden)
{
    GRID_STRIDE(bj, (long long)batch * hidden)
    {
        int b = (int)(bj / hidden), j = (int)(bj % hidden);
        long long ir = GRU_GATE(b, 0, j, hidden), iz = GRU_GATE(b, 1, j, hidden), in = GRU_GATE(b, 2, j, hidden);
        float r = gates[ir] = sigmoid(gi[ir] + gh[ir]);
        float z = gates[iz] = sigmoid(gi[iz] + gh[iz]);
        float n = gates[in] = tanhf(gi[in] + r * gh[in]);
        h[bj] = (1.0f - z) * n + z * hPrev[bj];
    }
}

// dGi and dGh differ in the n block only (dGh_n = dGi_n * r); dhPrev is read: the direct part z * dh is added to it.
extern "C" __global__ void gru_cell_backward(const float* gates, const float* gh, const float* hPrev, const float* dh, float* dGi,
                                             float* dGh, float* dhPrev, int batch, int hidden)
{
    GRID_STRIDE(bj, (long long)batch * hidden)
    {
        int b = (int)(bj / hidden), j = (int)(bj % hidden);
        long long ir = GRU_GATE(b, 0, j, hidden), iz = GRU_GATE(b, 1, j, hidden), in = GRU_GATE(b, 2, j, hidden);
        float r = gates[ir], z = gates[iz], n = gates[in], d = dh[bj];
        float dnPre = d * (1.0f - z) * (1.0f - n * n);
        float dzPre = d * (hPrev[bj] - n) * (z * (1.0f - z));
        float drPre = dnPre * gh[in] * (r * (1.0f - r));
        dGi[ir] = dGh[ir] = drPre;
        dGi[iz] = dGh[iz] = dzPre;
        dGi[in] = dnPre;
        dGh[in] = dnPre * r;
        dhPrev[bj] += d * z;
    }
}

// Attention layout: qkv [B, T, 3C] with q, k, v thirds along features, head h at features [h*hd, (h+1)*hd) of each third;
// y [B, T, C]; probabilities and dScores [B, heads, T, T]. attention_forward and attention_backward_query take one block
// (a multiple of 32 threads) per (b, h, query t): grid B * heads * T.
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

// The backward without atomics, in two launches: this one writes the query's row of dScores (the gradient of the scaled
// scores, for keys 0..t; the rest of the row is not written) and its dq; attention_backward_key_value then gathers each
// key's and value's gradient from every query that sees it. Dynamic shared memory: T floats.
extern "C" __global__ void attention_backward_query(const float* dy, const float* qkv, const float* probabilities, float* dScores,
                                                    float* dQkv, int T, int channels, int heads, float scale)
{
    extern __shared__ float dScore[]; // [T]: first the gradient of the probabilities, then of the scaled scores
    const int hd = channels / heads;
    const int t = blockIdx.x % T, h = blockIdx.x / T % heads, b = blockIdx.x / (T * heads);
    const float* p = probabilities + ((long long)blockIdx.x) * T;
    const float* dyh = dy + ((long long)b * T + t) * channels + (long long)h * hd;

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
    float* row = dScores + ((long long)blockIdx.x) * T;
    for (int u = threadIdx.x; u <= t; u += blockDim.x)
        row[u] = dScore[u] = p[u] * (dScore[u] - pDotDp) * scale;
    __syncthreads();

    for (int d = threadIdx.x; d < hd; d += blockDim.x)
    {
        float acc = 0.0f;
        for (int u = 0; u <= t; u++)
            acc += dScore[u] * qkv[QKV(b, u, 1, h) + d];
        dQkv[QKV(b, t, 0, h) + d] = acc;
    }
}

// dk[u] = sum over the queries s >= u of dScores[s, u] q[s]; dv[u] = sum over s >= u of p[s, u] dy[s], in query order:
// one thread per element of the key and value thirds of dQkv; n = B * T * 2 * channels.
extern "C" __global__ void attention_backward_key_value(const float* dy, const float* qkv, const float* probabilities, const float* dScores,
                                                        float* dQkv, int T, int channels, int heads, long long n)
{
    const int hd = channels / heads;
    GRID_STRIDE(e, n)
    {
        const int f = (int)(e % (2 * channels)), u = (int)(e / (2 * channels) % T), b = (int)(e / (2LL * channels * T));
        const int key = f < channels, h = f % channels / hd, d = f % hd;
        const float* weights = (key ? dScores : probabilities) + ((long long)b * heads + h) * T * T; // [T, T] of (b, h)
        float sum = 0.0f;
        for (int s = u; s < T; s++)
        {
            float x = key ? qkv[QKV(b, s, 0, h) + d] : dy[((long long)b * T + s) * channels + (long long)h * hd + d];
            sum += weights[(long long)s * T + u] * x;
        }
        dQkv[QKV(b, u, key ? 1 : 2, h) + d] = sum;
    }
}
