// GEMM, tiled through shared memory: c [m, n] = alpha * op(a) op(b) (+ c), whole or as partial products over slices of k.
// The host picks the kernel, the tile and the slices from the shape (backends/Cuda/GemmPlan.cs).
#include "common.cuh"

#define GEMM_THREADS 256 // both tiles: 16 x 16 threads (one-dimensional blocks), each computing (TILE / 16)^2 elements of c
#define GEMM_PAD 4       // a shared tile's rows are TILE + 4 floats: still 16-byte aligned, and 4 mod 32 banks apart

// Why these tiles. gemm_128: 128 x 128 outputs per block, 8 x 8 per thread, k in steps of 8. Per step of k a warp reads
// two float4 of the A tile (all its lanes share two addresses: broadcasts) and two of the B tile (16 consecutive float4:
// conflict-free) for 64 FMAs per thread, so the FMA pipes, not shared memory, set the pace; each element loaded into
// shared memory is used 128 times. 64 accumulators per thread fit the 128 registers that let two blocks share an SM
// (its launch bounds; ptxas for sm_90: 127, no spills), and the double-buffered tiles take 16.5 KiB. gemm_64: 64 x 64 outputs, 4 x 4 per thread, k in steps of 16: four times as many
// blocks for a shape, for the outputs too small to give every SM a 128 x 128 tile even with k split; its 16-deep step
// gives each thread 256 FMAs between barriers, and 64 registers (launch bounds: 4 blocks per SM) let several blocks of
// a small grid share an SM.
//
// The thread at (tx, ty) = (tid % 16, tid / 16) computes rows ty * 4 + r % 4 + r / 4 * 64 and columns tx * 4 + s % 4 +
// s / 4 * 64 of the tile: float4 runs in shared memory, and for c each half-warp stores 256 contiguous bytes of a row.
//
// The tiles are filled through copy_async (common.cuh: cp.async on sm_80+), tile t + 1 being copied while the block
// computes on tile t. An operand whose tile rows are contiguous in memory (a transposed A, an untransposed B: stored
// [k, dim]) is copied in float4s where its leading dimension is a multiple of 4 and its start 16-byte aligned, else in
// floats; the other (stored [dim, k]) is transposed on the way, in floats: a warp takes 8 consecutive k of 4 rows, so
// it reads whole 32-byte sectors and writes 32 distinct banks.

// tile[p][i] = op(x)[i0 + i, p0 + p] for i < TILE, p < TILE_K; zeros outside [0, dim) x [p0, pEnd). x is stored [k, dim]
// when kMajor, else [dim, k]. The loops stay rolled (one to four copies per thread): unrolled, the addresses of every
// layout stay live across the k loop, and gemm_128 spills (ptxas: 56 bytes at 128 registers, none rolled).
template <int TILE, int TILE_K>
__device__ __forceinline__ void gemm_load_tile(float (*tile)[TILE + GEMM_PAD], const float* x, bool kMajor, bool vectorized,
                                               int dim, int k, int i0, int p0, int pEnd)
{
    if (vectorized)
    {
#pragma unroll 1
        for (int e = threadIdx.x; e < TILE * TILE_K / 4; e += GEMM_THREADS)
        {
            int p = e / (TILE / 4), i = e % (TILE / 4) * 4;
            bool valid = i0 + i < dim && p0 + p < pEnd; // dim is a multiple of 4: a float4 is all in or all out
            copy_async_16(&tile[p][i], valid ? x + (long long)(p0 + p) * dim + i0 + i : x, valid);
        }
    }
    else if (kMajor)
    {
#pragma unroll 1
        for (int e = threadIdx.x; e < TILE * TILE_K; e += GEMM_THREADS)
        {
            int p = e / TILE, i = e % TILE;
            bool valid = i0 + i < dim && p0 + p < pEnd;
            copy_async_4(&tile[p][i], valid ? x + (long long)(p0 + p) * dim + i0 + i : x, valid);
        }
    }
    else
    {
#pragma unroll 1
        for (int e = threadIdx.x; e < TILE * TILE_K; e += GEMM_THREADS)
        {
            int p = e % 8 + e / (8 * TILE) * 8, i = e / 8 % TILE;
            bool valid = i0 + i < dim && p0 + p < pEnd;
            copy_async_4(&tile[p][i], valid ? x + (long long)(i0 + i) * k + p0 + p : x, valid);
        }
    }
}

__device__ __forceinline__ bool aligned16(const void* p) { return (reinterpret_cast<unsigned long long>(p) & 15) == 0; }

// op(a) is [m, k]: a is stored [m, k], or [k, m] when transposeA. op(b) is [k, n]: b is stored [k, n], or [n, k] when
// transposeB. Block (x, y) computes tile (x % tilesN, y) of c over split s = x / tilesN of k, [s * splitK, min(k, (s + 1) *
// splitK)), and writes it to slice s of c [splits, m, n]: with one split (splitK >= k) c is the output, alpha * op(a)op(b)
// (+ c when accumulate; c is read only then, so that with k = 0 it becomes 0 or keeps its value); with several, c is
// scratch, alpha 1 and accumulate 0, splitK a multiple of TILE_K, and gemm_split_sum adds the slices.
// Grid: (ceil(n / TILE) * splits, ceil(m / TILE)), blocks of GEMM_THREADS.
template <int TILE, int TILE_K>
__device__ __forceinline__ void gemm_tiles(int transposeA, int transposeB, int m, int n, int k, int splitK, const float* a,
                                           const float* b, float* c, float alpha, int accumulate)
{
    const int PER_THREAD = TILE / 16, GROUPS = PER_THREAD / 4; // outputs per thread along each dimension, in float4 runs
    __shared__ __align__(16) float tileA[2][TILE_K][TILE + GEMM_PAD]; // [buffer][p][i] = op(a)[row0 + i, p0 + p]
    __shared__ __align__(16) float tileB[2][TILE_K][TILE + GEMM_PAD]; // [buffer][p][j] = op(b)[p0 + p, col0 + j]
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int tilesN = (n + TILE - 1) / TILE, split = blockIdx.x / tilesN;
    const int row0 = blockIdx.y * TILE, col0 = blockIdx.x % tilesN * TILE;
    const int pBegin = split * splitK, pEnd = k - pBegin < splitK ? k : pBegin + splitK, tiles = (pEnd - pBegin + TILE_K - 1) / TILE_K;
    c += (long long)split * m * n;
    const bool aKMajor = transposeA, bKMajor = !transposeB;
    const bool aVector = aKMajor && m % 4 == 0 && aligned16(a), bVector = bKMajor && n % 4 == 0 && aligned16(b);

    float sum[PER_THREAD][PER_THREAD];
#pragma unroll
    for (int r = 0; r < PER_THREAD; r++)
#pragma unroll
        for (int s = 0; s < PER_THREAD; s++)
            sum[r][s] = 0.0f;

    if (tiles > 0)
    {
        gemm_load_tile<TILE, TILE_K>(tileA[0], a, aKMajor, aVector, m, k, row0, pBegin, pEnd);
        gemm_load_tile<TILE, TILE_K>(tileB[0], b, bKMajor, bVector, n, k, col0, pBegin, pEnd);
    }
    copy_async_commit();
    for (int t = 0; t < tiles; t++)
    {
        const int buffer = t & 1;
        if (t + 1 < tiles)
        {
            int p0 = pBegin + (t + 1) * TILE_K;
            gemm_load_tile<TILE, TILE_K>(tileA[buffer ^ 1], a, aKMajor, aVector, m, k, row0, p0, pEnd);
            gemm_load_tile<TILE, TILE_K>(tileB[buffer ^ 1], b, bKMajor, bVector, n, k, col0, p0, pEnd);
        }
        copy_async_commit(); // empty after the last tile, so that waiting for all but the newest group always means tile t
        copy_async_wait<1>();
        __syncthreads(); // every thread's copies of tile t have landed
#pragma unroll
        for (int p = 0; p < TILE_K; p++)
        {
            float ra[PER_THREAD], rb[PER_THREAD];
#pragma unroll
            for (int g = 0; g < GROUPS; g++)
            {
                float4 va = *reinterpret_cast<const float4*>(&tileA[buffer][p][g * 64 + ty * 4]);
                float4 vb = *reinterpret_cast<const float4*>(&tileB[buffer][p][g * 64 + tx * 4]);
                ra[g * 4] = va.x, ra[g * 4 + 1] = va.y, ra[g * 4 + 2] = va.z, ra[g * 4 + 3] = va.w;
                rb[g * 4] = vb.x, rb[g * 4 + 1] = vb.y, rb[g * 4 + 2] = vb.z, rb[g * 4 + 3] = vb.w;
            }
#pragma unroll
            for (int r = 0; r < PER_THREAD; r++)
#pragma unroll
                for (int s = 0; s < PER_THREAD; s++)
                    sum[r][s] += ra[r] * rb[s];
        }
        __syncthreads(); // no thread reads this buffer any more: the next iteration copies tile t + 2 into it
    }

    // float4 stores where c's rows start 16-byte aligned; n is then a multiple of 4, so a float4 is all in or all out.
    const bool cVector = n % 4 == 0 && aligned16(c);
#pragma unroll
    for (int r = 0; r < PER_THREAD; r++)
    {
        int i = row0 + r / 4 * 64 + ty * 4 + r % 4;
        if (i >= m)
            continue;
#pragma unroll
        for (int g = 0; g < GROUPS; g++)
        {
            int j = col0 + g * 64 + tx * 4;
            float* at = c + (long long)i * n + j;
            if (cVector)
            {
                if (j < n)
                {
                    float4 old = accumulate ? *reinterpret_cast<const float4*>(at) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                    *reinterpret_cast<float4*>(at) = make_float4(alpha * sum[r][g * 4] + old.x, alpha * sum[r][g * 4 + 1] + old.y,
                                                                 alpha * sum[r][g * 4 + 2] + old.z, alpha * sum[r][g * 4 + 3] + old.w);
                }
            }
            else
            {
#pragma unroll
                for (int s = 0; s < 4; s++)
                    if (j + s < n)
                        at[s] = alpha * sum[r][g * 4 + s] + (accumulate ? at[s] : 0.0f);
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 2) gemm_128(int transposeA, int transposeB, int m, int n, int k, int splitK,
                                                                      const float* a, const float* b, float* c, float alpha, int accumulate)
{
    gemm_tiles<128, 8>(transposeA, transposeB, m, n, k, splitK, a, b, c, alpha, accumulate);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 4) gemm_64(int transposeA, int transposeB, int m, int n, int k, int splitK,
                                                                     const float* a, const float* b, float* c, float alpha, int accumulate)
{
    gemm_tiles<64, 16>(transposeA, transposeB, m, n, k, splitK, a, b, c, alpha, accumulate);
}

// c [m, n] = alpha * (partial[0] + partial[1] + ... + partial[splits - 1]) (+ c when accumulate), the slices of the split
// GEMM (partial [splits, m * n]) added in that order, so the bits depend on the shape alone. A grid-stride loop over m * n.
extern "C" __global__ void gemm_split_sum(const float* partial, float* c, int splits, long long mn, float alpha, int accumulate)
{
    GRID_STRIDE(i, mn)
    {
        float sum = partial[i];
        for (int s = 1; s < splits; s++)
            sum += partial[s * mn + i];
        c[i] = alpha * sum + (accumulate ? c[i] : 0.0f);
    }
}
