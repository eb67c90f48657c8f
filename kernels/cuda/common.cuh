// Shared by every kernel source (NVRTC is given it as a header): grid-stride loops and block-wide reductions.
// Every source is compiled with no other header, so nothing here may include one.
#pragma once

// Element-wise kernels walk [0, n) with a grid-stride loop, so the host may cap the grid.
#define GRID_STRIDE(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)blockDim.x * gridDim.x)

#define NEGATIVE_INFINITY __int_as_float(0xff800000)

__device__ __forceinline__ float warp_sum(float v)
{
    for (int offset = 16; offset > 0; offset >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int offset = 16; offset > 0; offset >>= 1)
        v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, offset));
    return v;
}

// The sum (or maximum) of v over a one-dimensional block whose size is a multiple of 32, returned to every thread.
// The trailing barrier lets the next call reuse the shared slots.
__device__ float block_reduce(float v, bool isMax)
{
    __shared__ float partial[32];
    __shared__ float total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = isMax ? warp_max(v) : warp_sum(v);
    if (lane == 0)
        partial[warp] = v;
    __syncthreads();
    if (warp == 0)
    {
        int warps = blockDim.x >> 5;
        float w = lane < warps ? partial[lane] : (isMax ? NEGATIVE_INFINITY : 0.0f);
        w = isMax ? warp_max(w) : warp_sum(w);
        if (lane == 0)
            total = w;
    }
    __syncthreads();
    float result = total;
    __syncthreads();
    return result;
}

__device__ __forceinline__ float block_sum(float v) { return block_reduce(v, false); }

__device__ __forceinline__ float block_max(float v) { return block_reduce(v, true); }

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
