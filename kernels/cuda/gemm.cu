// GEMM, tiled through shared memory: c [m, n] = alpha * op(a) op(b) (+ c).
#include "common.cuh"

#define TILE_M 64
#define TILE_N 64
#define TILE_K 16
#define THREADS_X 16 // the host launches blocks of THREADS_X x THREADS_Y threads
#define THREADS_Y 16
#define PER_THREAD 4 // each thread computes PER_THREAD x PER_THREAD elements of c, THREADS_Y rows and THREADS_X columns apart

// op(a) is [m, k]: a is stored [m, k], or [k, m] when transposeA. op(b) is [k, n]: b is stored [k, n], or [n, k] when
// transposeB. c is read only when accumulate, so that with k = 0 it becomes 0 or keeps its value.
// Grid: (ceil(n / TILE_N), ceil(m / TILE_M)).
extern "C" __global__ void gemm(int transposeA, int transposeB, int m, int n, int k,
                                const float* a, const float* b, float* c, float alpha, int accumulate)
{
    __shared__ float tileA[TILE_K][TILE_M + 1]; // tileA[p][i] = op(a)[row0 + i, p0 + p]; the +1 spreads columns over banks
    __shared__ float tileB[TILE_K][TILE_N + 1]; // tileB[p][j] = op(b)[p0 + p, col0 + j]
    const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * THREADS_X + tx, threads = THREADS_X * THREADS_Y;
    const int row0 = blockIdx.y * TILE_M, col0 = blockIdx.x * TILE_N;
    float sum[PER_THREAD][PER_THREAD];
    for (int r = 0; r < PER_THREAD; r++)
        for (int s = 0; s < PER_THREAD; s++)
            sum[r][s] = 0.0f;

    for (int p0 = 0; p0 < k; p0 += TILE_K)
    {
        // Neighbouring threads load neighbouring addresses whichever way each operand is stored.
        for (int e = tid; e < TILE_M * TILE_K; e += threads)
        {
            int i = transposeA ? e % TILE_M : e / TILE_K;
            int p = transposeA ? e / TILE_M : e % TILE_K;
            int gi = row0 + i, gp = p0 + p;
            float v = 0.0f;
            if (gi < m && gp < k)
                v = transposeA ? a[(long long)gp * m + gi] : a[(long long)gi * k + gp];
            tileA[p][i] = v;
        }
        for (int e = tid; e < TILE_K * TILE_N; e += threads)
        {
            int j = transposeB ? e / TILE_K : e % TILE_N;
            int p = transposeB ? e % TILE_K : e / TILE_N;
            int gp = p0 + p, gj = col0 + j;
            float v = 0.0f;
            if (gp < k && gj < n)
                v = transposeB ? b[(long long)gj * k + gp] : b[(long long)gp * n + gj];
            tileB[p][j] = v;
        }
        __syncthreads();
        for (int p = 0; p < TILE_K; p++)
        {
            float ra[PER_THREAD], rb[PER_THREAD];
            for (int r = 0; r < PER_THREAD; r++)
                ra[r] = tileA[p][ty + THREADS_Y * r];
            for (int s = 0; s < PER_THREAD; s++)
                rb[s] = tileB[p][tx + THREADS_X * s];
            for (int r = 0; r < PER_THREAD; r++)
                for (int s = 0; s < PER_THREAD; s++)
                    sum[r][s] += ra[r] * rb[s];
        }
        __syncthreads();
    }

    for (int r = 0; r < PER_THREAD; r++)
    {
        int i = row0 + ty + THREADS_Y * r;
        for (int s = 0; s < PER_THREAD; s++)
        {
            int j = col0 + tx + THREADS_X * s;
            if (i < m && j < n)
            {
                long long at = (long long)i * n + j;
                c[at] = alpha * sum[r][s] + (accumulate ? c[at] : 0.0f);
            }
        }
    }
}
