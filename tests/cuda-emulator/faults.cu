// Kernels that are wrong on purpose, compiled into the emulator beside kernels/cuda so that CudaEmulatorTests can check
// that each fault fails its launch (tests/KernelLab.Tests/Cuda). Launched with blocks of 64 threads (two warps).

// The control: every thread writes the sum of its warp's lane numbers (496) after a barrier.
extern "C" __global__ void warp_sums(float* y, long long n)
{
    float v = threadIdx.x % 32;
    for (int offset = 16; offset > 0; offset >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, offset);
    __shared__ float sums[2];
    if (threadIdx.x % 32 == 0)
        sums[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x < n)
        y[threadIdx.x] = sums[threadIdx.x / 32];
}

// Writes one element past the end of y [n].
extern "C" __global__ void overrun(float* y, long long n)
{
    y[n - 64 + 1 + threadIdx.x] = 1.0f;
}

// The second warp leaves before the first reaches the barrier.
extern "C" __global__ void barrier_after_exit(float* y, long long n)
{
    if (threadIdx.x >= 32)
        return;
    __syncthreads();
    y[threadIdx.x] = 1.0f;
}

// The two warps wait at different barriers.
extern "C" __global__ void divergent_barrier(float* y, long long n)
{
    if (threadIdx.x < 32)
        __syncthreads();
    else
        __syncthreads();
    y[threadIdx.x] = 1.0f;
}

// Lane 5 has left when the others shuffle.
extern "C" __global__ void shuffle_missing_lane(float* y, long long n)
{
    if (threadIdx.x == 5)
        return;
    y[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1);
}

// Block 1 reads what block 0 writes in the same launch, which no launch order promises (launched with two blocks).
extern "C" __global__ void reads_earlier_block(float* y, long long n)
{
    if (threadIdx.x == 0)
        y[blockIdx.x] = blockIdx.x == 0 ? 1.0f : y[0];
}

// Not a fault: thread 0 of each block writes how many blocks ran before it (the elements of y [gridDim.x] already
// written: an allocation starts as NaN), so y is the order the blocks ran in.
extern "C" __global__ void block_order(float* y, long long n)
{
    if (threadIdx.x != 0)
        return;
    int before = 0;
    for (unsigned b = 0; b < gridDim.x; b++)
        before += y[b] == y[b];
    y[blockIdx.x] = before;
}
