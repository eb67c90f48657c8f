// Shared by every kernel source (NVRTC is given it as a header): grid-stride loops, block-wide reductions and the
// asynchronous copies into shared memory.
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

// Copies from global to shared memory that a kernel issues ahead of their use (the GEMM's next tile): asynchronous on
// sm_80+ (cp.async: the copies land while the block computes), plain loads and stores below it, into the same buffers.
// copy_async_4 and copy_async_16 copy 4 or 16 bytes (16: both addresses 16-byte aligned), or write zeros and read nothing
// when !valid (global must still be a mapped address: pass the operand's start); copy_async_commit closes the group of
// this thread's copies issued since the last; copy_async_wait<N> waits until at most the N newest groups are in flight.
// Other threads see the copies after this thread's wait and a __syncthreads. The emulator has its own (EMU_COPY_ASYNC,
// tests/cuda-emulator/cuda_device.h), which lands a launch's copies as early or as late as a GPU may.
#ifndef EMU_COPY_ASYNC
#if __CUDA_ARCH__ >= 800
__device__ __forceinline__ unsigned shared_address(const void* p) { return static_cast<unsigned>(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void copy_async_4(float* shared, const float* global, bool valid)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(shared_address(shared)), "l"(global), "r"(valid ? 4 : 0) : "memory");
}

// .cg: the operand tiles are read once per block, so they bypass L1 (16-byte copies only may).
__device__ __forceinline__ void copy_async_16(float* shared, const float* global, bool valid)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(shared)), "l"(global), "r"(valid ? 16 : 0) : "memory");
}

__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

template <int N>
__device__ __forceinline__ void copy_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }
#else
__device__ __forceinline__ void copy_async_4(float* shared, const float* global, bool valid) { *shared = valid ? *global : 0.0f; }

__device__ __forceinline__ void copy_async_16(float* shared, const float* global, bool valid)
{
    *reinterpret_cast<float4*>(shared) = valid ? *reinterpret_cast<const float4*>(global) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
}

__device__ __forceinline__ void copy_async_commit() {}

template <int N>
__device__ __forceinline__ void copy_async_wait() {}
#endif
#endif
