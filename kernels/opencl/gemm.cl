// c [m, n] = alpha * op(a) op(b) (+ c when accumulate), tiled through local memory. A work-group of RTS x RTS
// work-items computes one TS x TS block of c; each work-item holds WPT x WPT outputs in registers, strided by RTS so
// that neighbouring work-items read neighbouring local memory. Every step stages a TK-deep slice of op(a) and op(b)
// in local memory, loaded along whichever index is contiguous in the stored layout.
// One kernel per transpose pair; A(i, p) and B(p, j) read the stored layouts.

#define TS 64
#define TK 16
#define WPT 4
#define RTS (TS / WPT)

#define A_N(i, p) a[ao + (i) * k + (p)] // a stored [m, k]: p contiguous
#define A_T(i, p) a[ao + (p) * m + (i)] // a stored [k, m]: i contiguous
#define B_N(p, j) b[bo + (p) * n + (j)] // b stored [k, n]: j contiguous
#define B_T(p, j) b[bo + (j) * k + (p)] // b stored [n, k]: p contiguous

#define GEMM(name, A, A_P_CONTIGUOUS, B, B_P_CONTIGUOUS)                                                        \
__kernel __attribute__((reqd_work_group_size(RTS, RTS, 1)))                                                     \
void name(int m, int n, int k, __global const float* a, int ao, __global const float* b, int bo,                 \
          __global float* c, int co, float alpha, int accumulate)                                               \
{                                                                                                               \
    __local float as[TK][TS]; /* [p][row of the block] */                                                     \
    __local float bs[TK][TS]; /* [p][column of the block] */                                                  \
    int tx = get_local_id(0), ty = get_local_id(1), lid = ty * RTS + tx;                                        \
    int i0 = get_group_id(1) * TS, j0 = get_group_id(0) * TS;                                                   \
    float acc[WPT][WPT];                                                                                        \
    for (int wi = 0; wi < WPT; wi++)                                                                            \
        for (int wj = 0; wj < WPT; wj++)                                                                        \
            acc[wi][wj] = 0.0f;                                                                                 \
    for (int p0 = 0; p0 < k; p0 += TK)                                                                          \
    {                                                                                                           \
        for (int l = lid; l < TK * TS; l += RTS * RTS)                                                          \
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
            float ar[WPT], br[WPT];                                                                             \
            for (int w = 0; w < WPT; w++)                                                                       \
            {                                                                                                   \
                ar[w] = as[p][ty + w * RTS];                                                                    \
                br[w] = bs[p][tx + w * RTS];                                                                    \
            }                                                                                                   \
            for (int wi = 0; wi < WPT; wi++)                                                                    \
                for (int wj = 0; wj < WPT; wj++)                                                                \
                    acc[wi][wj] += ar[wi] * br[wj];                                                             \
        }                                                                                                       \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                           \
    }                                                                                                           \
    for (int wi = 0; wi < WPT; wi++)                                                                            \
        for (int wj = 0; wj < WPT; wj++)                                                                        \
        {                                                                                                       \
            int i = i0 + ty + wi * RTS, j = j0 + tx + wj * RTS;                                                 \
            if (i < m && j < n)                                                                                 \
                c[co + i * n + j] = alpha * acc[wi][wj] + (accumulate ? c[co + i * n + j] : 0.0f);              \
        }                                                                                                       \
}

GEMM(gemm_nn, A_N, 1, B_N, 0)
GEMM(gemm_nt, A_N, 1, B_T, 1)
GEMM(gemm_tn, A_T, 0, B_N, 0)
GEMM(gemm_tt, A_T, 0, B_T, 1)
