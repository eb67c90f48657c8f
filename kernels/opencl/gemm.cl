// c [m, n] = alpha * op(a) op(b) (+ c when accumulate), tiled through local memory: a work-group of TILE x TILE
// work-items computes one TILE x TILE block of c, staging TILE-wide slices of op(a) and op(b) in local memory.
// One kernel per transpose pair; A(i, p) and B(p, j) read the stored layouts.

#define TILE 16

#define A_N(i, p) a[ao + (i) * k + (p)] // a stored [m, k]
#define A_T(i, p) a[ao + (p) * m + (i)] // a stored [k, m]
#define B_N(p, j) b[bo + (p) * n + (j)] // b stored [k, n]
#define B_T(p, j) b[bo + (j) * k + (p)] // b stored [n, k]

#define GEMM(name, A, B)                                                                                        \
__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))                                                   \
void name(int m, int n, int k, __global const float* a, int ao, __global const float* b, int bo,                 \
          __global float* c, int co, float alpha, int accumulate)                                               \
{                                                                                                               \
    __local float as[TILE][TILE + 1]; /* [row of c][p]; +1 keeps column reads off one bank */                 \
    __local float bs[TILE][TILE + 1]; /* [p][column of c] */                                                  \
    int tx = get_local_id(0), ty = get_local_id(1);                                                             \
    int j = get_group_id(0) * TILE + tx, i = get_group_id(1) * TILE + ty;                                       \
    float sum = 0.0f;                                                                                           \
    for (int p0 = 0; p0 < k; p0 += TILE)                                                                        \
    {                                                                                                           \
        as[ty][tx] = (i < m && p0 + tx < k) ? A(i, p0 + tx) : 0.0f;                                             \
        bs[ty][tx] = (p0 + ty < k && j < n) ? B(p0 + ty, j) : 0.0f;                                             \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                           \
        for (int q = 0; q < TILE; q++)                                                                          \
            sum += as[ty][q] * bs[q][tx];                                                                       \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                           \
    }                                                                                                           \
    if (i < m && j < n)                                                                                         \
        c[co + i * n + j] = alpha * sum + (accumulate ? c[co + i * n + j] : 0.0f);                              \
}

GEMM(gemm_nn, A_N, B_N)
GEMM(gemm_nt, A_N, B_T)
GEMM(gemm_tn, A_T, B_N)
GEMM(gemm_tt, A_T, B_T)
