// The CUDA C device dialect on the CPU, for the emulator of emulator.cpp: the kernels of kernels/cuda are compiled by g++
// unchanged, with this header forced in front of each (-include). Every thread of a block is a fiber of one OS thread;
// __syncthreads and warp shuffles switch fibers (emulator.cpp), so blocks keep CUDA's semantics: shared memory is one
// copy per block, visible to all its threads after a barrier.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <math.h>
#include <type_traits>
#include <utility>

struct uint3
{
    unsigned int x, y, z;
};

struct alignas(16) float4
{
    float x, y, z, w;
};

inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

namespace emu
{
// The block in flight on this OS thread, and the fiber (thread of the block) now running.
extern thread_local uint3 block_index, block_dim, grid_dim;
const uint3& thread_index();

// Every thread of the block waits here until all of them arrive; file and line name the __syncthreads in the source.
void sync_block(const char* file, int line);

// The value of v held by lane + delta of the calling thread's warp (its own v past lane 31); mask must be all 32 lanes.
float shuffle_down(unsigned int mask, float v, unsigned int delta);

// cp.async (common.cuh's copy_async_*): the calling thread's copy of bytes from global (zeros when !valid) to shared,
// read now and landed, as drawn for the launch, now or when a wait retires its group (the earliest and the latest a GPU
// may land it), so a kernel that refills a buffer another thread may still read, or reads a tile before its wait (or
// before the __syncthreads after every thread's wait), fails; the close of a group; and the wait that lands every group
// but the `pending` newest. A 16-byte copy from or to an address that is not 16-byte aligned fails the launch, as on a GPU.
void copy_async(void* shared, const void* global, unsigned bytes, bool valid);
void copy_async_commit();
void copy_async_wait(int pending);

// A kernel of the library: its (extern "C") name, entry point, and how to call it from cuLaunchKernel's argument
// array, whose element i points to the value of parameter i.
using Invoker = void (*)(void* function, void** arguments);

void register_kernel(const char* name, void* function, Invoker invoke, int parameter_count, const unsigned char* parameter_sizes);

template <typename... Parameters>
struct Signature
{
    static constexpr unsigned char sizes[sizeof...(Parameters) + 1] = {sizeof(Parameters)..., 0};

    static void invoke(void* function, void** arguments) { call(function, arguments, std::index_sequence_for<Parameters...>{}); }

    template <std::size_t... I>
    static void call(void* function, void** arguments, std::index_sequence<I...>)
    {
        reinterpret_cast<void (*)(Parameters...)>(function)(*static_cast<std::remove_cv_t<Parameters>*>(arguments[I])...);
    }
};

template <typename... Parameters>
bool add_kernel(const char* name, void (*function)(Parameters...))
{
    register_kernel(name, reinterpret_cast<void*>(function), &Signature<Parameters...>::invoke, sizeof...(Parameters),
                    Signature<Parameters...>::sizes);
    return true;
}
} // namespace emu

// Qualifiers. A block-scope thread_local is static: one copy per OS thread, so one per block in flight.
#define __global__
#define __device__ static
#define __forceinline__ inline
#define __launch_bounds__(...) // a register budget for the GPU's compiler
#define __shared__ thread_local
#define __align__(bytes) __attribute__((aligned(bytes)))

#define threadIdx (emu::thread_index())
#define blockIdx (emu::block_index)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)

#define __syncthreads() emu::sync_block(__FILE__, __LINE__)

inline float __shfl_down_sync(unsigned int mask, float v, unsigned int delta) { return emu::shuffle_down(mask, v, delta); }

inline float __int_as_float(int bits) { return std::bit_cast<float>(bits); }

// The product rounded to float, which a GPU never fuses into an FMA with what uses it. The empty asm hides the product
// from g++, which would otherwise contract it (build.sh: -ffp-contract=fast) once the call is inlined.
inline float __fmul_rn(float a, float b)
{
    float product = a * b;
    asm("" : "+x"(product));
    return product;
}

// common.cuh's asynchronous copies (it leaves them out when EMU_COPY_ASYNC is defined), as emu::copy_async lands them.
#define EMU_COPY_ASYNC
inline void copy_async_4(float* shared, const float* global, bool valid) { emu::copy_async(shared, global, 4, valid); }
inline void copy_async_16(float* shared, const float* global, bool valid) { emu::copy_async(shared, global, 16, valid); }
inline void copy_async_commit() { emu::copy_async_commit(); }
template <int N>
inline void copy_async_wait() { emu::copy_async_wait(N); }

inline float atomicAdd(float* address, float v) { return std::atomic_ref<float>(*address).fetch_add(v); }

inline int atomicAdd(int* address, int v) { return std::atomic_ref<int>(*address).fetch_add(v); }

// Blocks run one after another here, so every write is visible to the next block without a fence.
inline void __threadfence() {}

// Dynamic shared memory (extern __shared__ T name[]): its storage, defined once per source by build.sh's EMU_DYNAMIC_SHARED,
// holds the most a launch may ask for without opting in.
#define EMU_SHARED_LIMIT (48 * 1024)
#define EMU_DYNAMIC_SHARED(type, name) \
    extern "C" {                       \
    alignas(16) thread_local type name[EMU_SHARED_LIMIT / sizeof(type)]; \
    }

#define EMU_KERNEL(name) [[maybe_unused]] static const bool emu_registered_##name = emu::add_kernel(#name, &name);
