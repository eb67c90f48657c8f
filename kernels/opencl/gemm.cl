// c [m, n] = alpha * op(a) op(b) (+ c when accumulate), tiled through local memory. A work-group of 8 x 8
// work-items computes one 64 x 64 block of c: each work-item holds 8 rows (strided by 8) of 8 consecutive columns
// in float8 registers, so that the inner product is written as vector arithmetic (a compiler for a CPU keeps it in
// SIMD registers; a GPU treats it as 64 scalar accumulators). Every step stages a TK-deep slice of op(a) and op(b)
// in local memory, loaded along whichever index is contiguous in the stored layout.
// One kernel per transpose pair; A(i, p) and B(p, j) read the stored layouts.

#define TS 64            // block of c: TS x TS
#define TK 16            // depth of a step
#define COLS 8           // consecutive columns per work-item (float8)
#define ROWS 8           // rows per work-item, strided by GROUP_Y
#define GROUP_X (TS / COLS)
#define GROUP_Y (TS / ROWS)

#define A_N(i, p) a[ao + (i) * k + (p)] // a stored [m, k]: p contiguous
#define A_T(i, p) a[ao + (p) * m + (i)] // a stored [k, m]: i contiguous
#define B_N(p, j) b[bo + (p) * n + (j)] // b stored [k, n]: j contiguous
#define B_T(p, j) b[bo + (j) * k + (p)] // b stored [n, k]: p contiguous

#define GEMM(name, A, A_P_CONTIGUOUS, B, B_P_CONTIGUOUS)                                                        \
__kernel __attribute__((reqd_work_group_size(GROUP_X, GROUP_Y, 1)))                                             \
void name(int m, int n, int k, __global const float* a, int ao, __global const float* b, int bo,                 \
          __global float* c, int co, float alpha, int accumulate)                                               \
{                                                                                                               \
    __local float as[TK][TS]; /* [p][row of the block] */                                                     \
    __local float bs[TK][TS]; /* [p][column of the block] */                                                  \
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * GROUP_X + tx;                                    \
    int i0 = get_group_id(1) * TS, j0 = get_group_id(0) * TS;                                                   \
    float8 acc[ROWS];                                                                                           \
    for (int w = 0; w < ROWS; w++)                                                                              \
        acc[w] = (float8)(0.0f);                                                                                \
    for (int p0 = 0; p0 < k; p0 += TK)                                                                          \
    {                                                                                                           \
        for (int l = lid; l < TK * TS; l += GROUP_X * GROUP_Y)                                                  \
        {                                                                                                       \
            int p = A_P_CONTIGUOUS ? l % TK : l / TS, r = A_P_CONTIGUOUS ? l / TK : l % TS;                     \
            as[p][r] = (i0 + r < m && p0 + p < k) ? A(i0 + r, p0 + p) : 0.0f;                                   \
            p = B_P_CONTIGUOUS ? l % TK : l / TS;                                                               \
            r = B_P_CONTIGUOUS ? l / TK : l % TS;                                                               \
            bs[p][r] = (p0 + p < k && j0 + r < n) ? B(p0 + p, j0 + r) : 0.0f;                                   \
        }                                                                                                       \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                           \
        for (int p = 0; p < TK; p++)                                                                            \
        {                                                                                                       \
            float8 bv = vload8(tx, bs[p]);                                                                      \
            for (int w = 0; w < ROWS; w++)                                                                      \
                acc[w] += as[p][ty + w * GROUP_Y] * bv;                                                         \
        }                                                                                                       \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                           \
    }                                                                                                           \
    for (int w = 0; w < ROWS; w++)                                                                              \
    {                                                                                                           \
        int i = i0 + ty + w * GROUP_Y;                                                                          \
        float out[COLS];                                                                                        \
        vstore8(acc[w], 0, out);                                                                                \
        for (int e = 0; e < COLS; e++)                                                                          \
        {                                                                                                       \
            int j = j0 + tx * COLS + e;                                                                         \
            if (i < m && j < n)                                                                                 \
                c[co + i * n + j] = alpha * out[e] + (accumulate ? c[co + i * n + j] : 0.0f);                   \
        }                                                                                                       \
    }                                                                                                           \
}

GEMM(gemm_nn, A_N, 1, B_N, 0)
GEMM(gemm_nt, A_N, 1, B_T, 1)
GEMM(gemm_tn, A_T, 0, B_N, 0)
GEMM(gemm_tt, A_T, 0, B_T, 1)
