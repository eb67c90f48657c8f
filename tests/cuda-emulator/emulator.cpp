// A CPU stand-in for libcuda.so.1, so that the cuda backend's host code and the kernels of kernels/cuda run in CI, where
// there is no GPU. It exports the driver API calls backends/Cuda/Native/CudaDriver.cs binds, with their C signatures
// and status codes, and runs each kernel from its CUDA C source compiled by g++ into this library (build.sh), not from
// the PTX: a module load reads the PTX only to check that every kernel in it is here with the same parameter sizes.
//
// It is a test device, and says so: the device is named "KernelLab CUDA emulator (CPU)". It is stricter than a GPU
// where a GPU fails quietly or not at all:
// - each allocation ends where an inaccessible page begins, and starts as NaN (0xFF bytes); a kernel that touches
//   memory it may not fails its launch with CUDA_ERROR_ILLEGAL_ADDRESS, and copies must lie inside one allocation;
// - a __syncthreads that not every thread of the block reaches (some exited, or wait at another one), a warp shuffle
//   with a lane missing, a block that can never finish: CUDA_ERROR_LAUNCH_FAILED;
// - blocks run one after another in an order shuffled afresh for every launch (seeded: KERNELLAB_CUDA_EMULATOR_SEED,
//   default 1), so a result that depends on the order of blocks (a float atomicAdd from several blocks, a block that
//   reads what another block of the same launch writes) differs from launch to launch, or sees NaN;
// - an asynchronous copy (cp.async, common.cuh's copy_async_*) lands in shared memory when it is issued or only at the
//   wait that retires its group (drawn per launch), so a buffer refilled while another thread may still read it, or a
//   tile read before its wait, gives wrong results; a 16-byte one from or to a misaligned address fails;
// - launch shapes are checked against the limits of compute capability 8.0;
// - the kernels are compiled with FMA contraction (build.sh), as NVRTC compiles them by default (--fmad=true).
// After a failed launch, cuGetErrorString says where: kernel, block, thread, address. What it does not show: speed,
// memory coalescing, races between blocks that run at the same time (here one runs after another), and the GPU's own
// math library (expf etc. are glibc's here).
//
// Threads of a block are fibers of the launching OS thread, switched by emu_switch below (x86-64 System V only).
#include "cuda_device.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#define EXPORT extern "C" __attribute__((visibility("default")))

using CUresult = int;
using CUdeviceptr = unsigned long long;

namespace
{
// The status codes this library returns: cuda.h's name, value and cuGetErrorString's text.
#define CU_RESULTS(X)                                                                                         \
    X(CUDA_SUCCESS, 0, "no error")                                                                            \
    X(CUDA_ERROR_INVALID_VALUE, 1, "invalid argument")                                                        \
    X(CUDA_ERROR_OUT_OF_MEMORY, 2, "out of memory")                                                           \
    X(CUDA_ERROR_NOT_INITIALIZED, 3, "initialization error")                                                  \
    X(CUDA_ERROR_INVALID_DEVICE, 101, "invalid device ordinal")                                               \
    X(CUDA_ERROR_INVALID_CONTEXT, 201, "invalid device context")                                              \
    X(CUDA_ERROR_INVALID_PTX, 218, "a PTX JIT compilation failed")                                            \
    X(CUDA_ERROR_INVALID_HANDLE, 400, "invalid resource handle")                                              \
    X(CUDA_ERROR_ILLEGAL_STATE, 401, "the operation cannot be performed in the present state")                \
    X(CUDA_ERROR_NOT_FOUND, 500, "named symbol not found")                                                    \
    X(CUDA_ERROR_ILLEGAL_ADDRESS, 700, "an illegal memory access was encountered")                            \
    X(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, 701, "too many resources requested for launch")                     \
    X(CUDA_ERROR_LAUNCH_FAILED, 719, "unspecified launch failure")                                            \
    X(CUDA_ERROR_NOT_SUPPORTED, 801, "operation not supported")                                               \
    X(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, 900, "operation not permitted when stream is capturing")         \
    X(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, 901, "operation failed due to a previous error during capture")

#define CU_RESULT_VALUE(name, code, text) name = code,
enum : CUresult
{
    CU_RESULTS(CU_RESULT_VALUE)
};

struct ErrorText
{
    CUresult code;
    const char* name;
    const char* description;
};

#define CU_RESULT_TEXT(name, code, text) {code, #name, text},
constexpr ErrorText Errors[] = {CU_RESULTS(CU_RESULT_TEXT)};

// The device this library pretends to be.
constexpr const char* DeviceName = "KernelLab CUDA emulator (CPU)";
constexpr int ComputeMajor = 8, ComputeMinor = 0;
// An H200's SMs, not this machine's cores: the backend shapes its launches by this count (the GEMM's tiles and split of
// k, backends/Cuda/GemmPlan.cs), so CI runs the launches that an H200 runs.
constexpr int Multiprocessors = 132;
constexpr int DriverVersion = 13000; // no PTX is JIT-compiled, so the PTX of any NVRTC loads
constexpr unsigned MaxThreadsPerBlock = 1024, MaxBlockX = 1024, MaxBlockY = 1024, MaxBlockZ = 64;
constexpr unsigned long long MaxGridX = 2147483647ull, MaxGridYZ = 65535;

std::mutex Lock; // one launch, allocation or copy at a time
bool Initialized = false;
unsigned long long KernelLaunches = 0, Copies = 0; // in this process, for kernellabEmulatorCounts
int PrimaryContextReferences = 0;
int PrimaryContextToken; // the CUcontext handed out is its address

// ------------------------------------------------------------------ kernels

// The order blocks run in: a permutation of the grid drawn for each launch from this generator, seeded once per process.
std::mt19937_64& BlockOrderGenerator()
{
    static std::mt19937_64 generator = [] {
        const char* seed = std::getenv("KERNELLAB_CUDA_EMULATOR_SEED");
        return std::mt19937_64(seed != nullptr && *seed != 0 ? std::strtoull(seed, nullptr, 10) : 1);
    }();
    return generator;
}

// Whether this launch's asynchronous copies land in shared memory when they are issued (as plain copies would), else at
// the wait that retires their group: the earliest and the latest a GPU may land them. Drawn for each launch with its
// block order, so a kernel that refills a buffer some thread may still read (a missing __syncthreads) fails on the first,
// one that reads a tile before its wait on the second.
bool CopiesLandAtIssue = false;

// A fresh permutation of the blocks 0 .. count - 1 (linear: x + y * gridDim.x + ...), kept for the launch that asked for it.
const std::vector<unsigned long long>& DrawBlockOrder(std::size_t count)
{
    static std::vector<unsigned long long> order;
    order.resize(count);
    std::iota(order.begin(), order.end(), 0ull);
    std::shuffle(order.begin(), order.end(), BlockOrderGenerator());
    return order;
}

struct Kernel
{
    std::string name;
    void* function;
    emu::Invoker invoke;
    std::vector<unsigned char> parameter_sizes;
};

std::map<std::string, Kernel>& KernelTable()
{
    static std::map<std::string, Kernel> table;
    return table;
}

struct Module
{
    std::set<const Kernel*> kernels;
};

std::set<Module*> Modules;

// The .entry names of a PTX text and the size in bytes of each parameter (.param .u64 = 8, .f32 = 4, ...).
std::map<std::string, std::vector<unsigned char>> PtxEntries(const char* ptx)
{
    std::map<std::string, std::vector<unsigned char>> entries;
    const char* at = ptx;
    while ((at = std::strstr(at, ".entry ")) != nullptr)
    {
        at += 7;
        const char* open = std::strchr(at, '(');
        if (open == nullptr)
            break;
        std::string name(at, open);
        while (!name.empty() && name.back() == ' ')
            name.pop_back();
        const char* close = std::strchr(open, ')');
        std::vector<unsigned char> sizes;
        for (const char* p = open; close != nullptr && (p = std::strstr(p, ".param ")) != nullptr && p < close; p += 7)
        {
            const char* type = p + 7;
            while (*type == ' ')
                type++;
            // .u64 .s32 .f32 .b8 ...: the digits after the type letter are its bit width.
            int bits = std::atoi(type + 2);
            sizes.push_back(static_cast<unsigned char>(bits / 8));
        }
        entries[name] = sizes;
        at = close != nullptr ? close : open;
    }
    return entries;
}

// ------------------------------------------------------------------ memory

struct Allocation
{
    void* mapping;
    std::size_t mapping_bytes;
    std::size_t bytes;
};

std::map<CUdeviceptr, Allocation> Allocations; // by start address

std::size_t PageSize() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

// The allocation [pointer, pointer + bytes) lies in, if any.
const Allocation* Containing(CUdeviceptr pointer, std::size_t bytes)
{
    auto next = Allocations.upper_bound(pointer);
    if (next == Allocations.begin())
        return nullptr;
    auto it = std::prev(next);
    return pointer + bytes <= it->first + it->second.bytes ? &it->second : nullptr;
}

// ------------------------------------------------------------------ fibers

// Saves the callee-saved registers on the current stack, stores the stack pointer in *save and continues on the stack
// whose saved pointer is load (one that emu_switch stored, or one PrepareStack set up).
extern "C" void emu_switch(void** save, void* load);
asm(R"(
    .text
    .globl emu_switch
    .hidden emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
)");

enum class FiberState
{
    Runnable,
    AtBlockBarrier,
    AtWarpBarrier,
    Exited,
};

// One cp.async of a fiber: what it read from global memory, to land in shared memory at the wait that retires its group.
struct AsyncCopy
{
    void* shared;
    unsigned bytes;
    unsigned char data[16];
};

struct Fiber
{
    uint3 thread;
    unsigned linear; // x + y * blockDim.x + z * blockDim.x * blockDim.y; lane = linear % 32
    FiberState state;
    std::pair<const char*, int> barrier_site; // the __syncthreads the fiber waits at: source file and line
    void* stack_pointer;
    std::vector<AsyncCopy> uncommitted_copies;       // issued since the last copy_async_commit
    std::deque<std::vector<AsyncCopy>> copy_groups; // committed and not yet landed, oldest first
};

constexpr std::size_t FiberStackBytes = 256 * 1024;

// The threads of the block in flight on this OS thread.
struct Block
{
    std::vector<Fiber> fibers;
    std::vector<void*> stacks; // FiberStackBytes each, with an inaccessible page below; kept for the next block
    Fiber* current = nullptr;
    void* scheduler_stack_pointer = nullptr;
    const Kernel* kernel = nullptr;
    void** arguments = nullptr;
    std::vector<float> shuffle_slots; // 32 per warp
    std::optional<std::string> failure; // why the block cannot finish

    ~Block()
    {
        for (void* stack : stacks)
            munmap(static_cast<char*>(stack) - PageSize(), FiberStackBytes + PageSize());
    }

    unsigned warp_lanes(unsigned warp) const
    {
        unsigned first = warp * 32;
        return std::min<unsigned>(32, static_cast<unsigned>(fibers.size()) - first);
    }
};

thread_local Block ThisBlock;

[[noreturn]] void FiberMain()
{
    Block& block = ThisBlock;
    block.kernel->invoke(block.kernel->function, block.arguments);
    block.current->state = FiberState::Exited;
    void* unused;
    emu_switch(&unused, block.scheduler_stack_pointer);
    __builtin_unreachable();
}

// Gives control back to the scheduler until the fiber's state is Runnable again.
void Yield()
{
    Block& block = ThisBlock;
    emu_switch(&block.current->stack_pointer, block.scheduler_stack_pointer);
}

// Records why the block cannot finish; returns false for the caller to return.
bool Failed(Block& block, std::string message)
{
    block.failure = std::move(message);
    return false;
}

// Stops the launch from inside a fiber: it is never resumed, and the launch returns CUDA_ERROR_LAUNCH_FAILED.
[[noreturn]] void Fail(std::string message)
{
    Block& block = ThisBlock;
    if (!block.failure)
        Failed(block, std::move(message));
    void* unused;
    emu_switch(&unused, block.scheduler_stack_pointer);
    __builtin_unreachable();
}

void* PrepareStack(void* stack)
{
    // emu_switch pops six registers and returns: FiberMain is entered as if called, with rsp + 8 aligned to 16.
    auto* top = reinterpret_cast<std::uintptr_t*>(static_cast<char*>(stack) + FiberStackBytes);
    top[-1] = 0;
    top[-2] = reinterpret_cast<std::uintptr_t>(&FiberMain);
    for (int r = 3; r <= 8; r++)
        top[-r] = 0;
    return top - 8;
}

// Releases the threads waiting at a barrier that every thread it waits for has reached. Returns whether any was released.
// CUDA allows __syncthreads in conditional code only where the condition is the same for the whole block, so threads
// that wait at different __syncthreads, or wait while others have exited, fail the block.
bool ReleaseBarriers(Block& block)
{
    bool released = false;
    std::size_t at_block_barrier = 0, exited = 0;
    for (const Fiber& f : block.fibers)
    {
        at_block_barrier += f.state == FiberState::AtBlockBarrier;
        exited += f.state == FiberState::Exited;
    }
    if (at_block_barrier > 0 && at_block_barrier + exited == block.fibers.size())
    {
        if (exited > 0)
            return Failed(block, "__syncthreads reached by " + std::to_string(at_block_barrier) + " threads after " + std::to_string(exited) +
                                     " threads of the block exited");
        for (const Fiber& f : block.fibers)
            if (f.barrier_site.second != block.fibers[0].barrier_site.second || std::strcmp(f.barrier_site.first, block.fibers[0].barrier_site.first) != 0)
                return Failed(block, "threads wait at different __syncthreads: thread 0 at line " + std::to_string(block.fibers[0].barrier_site.second) +
                                         ", thread " + std::to_string(f.linear) + " at line " + std::to_string(f.barrier_site.second));
        for (Fiber& f : block.fibers)
            if (f.state == FiberState::AtBlockBarrier)
                f.state = FiberState::Runnable;
        released = true;
    }
    for (unsigned warp = 0; warp * 32 < block.fibers.size(); warp++)
    {
        unsigned lanes = block.warp_lanes(warp), waiting = 0;
        for (unsigned lane = 0; lane < lanes; lane++)
            waiting += block.fibers[warp * 32 + lane].state == FiberState::AtWarpBarrier;
        if (waiting == lanes)
        {
            for (unsigned lane = 0; lane < lanes; lane++)
                block.fibers[warp * 32 + lane].state = FiberState::Runnable;
            released = true;
        }
    }
    return released;
}

std::string Describe(const Block& block)
{
    unsigned counts[4] = {};
    for (const Fiber& f : block.fibers)
        counts[static_cast<int>(f.state)]++;
    return std::to_string(counts[1]) + " threads at __syncthreads, " + std::to_string(counts[2]) + " at a warp shuffle, " +
           std::to_string(counts[3]) + " exited";
}

// Runs one block to the end. Returns false (with block.failure set) when it cannot finish.
bool RunBlock(Block& block, const Kernel& kernel, void** arguments, uint3 dim)
{
    std::size_t count = static_cast<std::size_t>(dim.x) * dim.y * dim.z;
    block.kernel = &kernel;
    block.arguments = arguments;
    block.fibers.resize(count);
    block.shuffle_slots.assign((count + 31) / 32 * 32, 0.0f);
    while (block.stacks.size() < count)
    {
        std::size_t guard = PageSize();
        void* mapping = mmap(nullptr, FiberStackBytes + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mapping == MAP_FAILED)
            return Failed(block, "no memory for the stacks of a block's threads");
        mprotect(mapping, guard, PROT_NONE);
        block.stacks.push_back(static_cast<char*>(mapping) + guard);
    }
    for (std::size_t i = 0; i < count; i++)
    {
        Fiber& f = block.fibers[i];
        f.linear = static_cast<unsigned>(i);
        f.thread = {static_cast<unsigned>(i % dim.x), static_cast<unsigned>(i / dim.x % dim.y), static_cast<unsigned>(i / (dim.x * dim.y))};
        f.state = FiberState::Runnable;
        f.stack_pointer = PrepareStack(block.stacks[i]);
        f.uncommitted_copies.clear(); // a GPU lands what the last block left in flight in shared memory nobody reads again
        f.copy_groups.clear();
    }
    std::size_t exited = 0;
    while (exited < count)
    {
        bool ran = false;
        for (Fiber& f : block.fibers)
        {
            if (f.state != FiberState::Runnable)
                continue;
            block.current = &f;
            emu_switch(&block.scheduler_stack_pointer, f.stack_pointer);
            if (block.failure)
                return false;
            exited += f.state == FiberState::Exited;
            ran = true;
        }
        bool released = ReleaseBarriers(block);
        if (block.failure)
            return false;
        if (!released && !ran && exited < count)
            return Failed(block, "the block can never finish: " + Describe(block));
    }
    return true;
}

// ------------------------------------------------------------------ faults

// While a kernel runs on this OS thread, a SIGSEGV or SIGBUS here ends the launch (CUDA_ERROR_ILLEGAL_ADDRESS) instead of
// the process; a fault on any other thread goes to the handler that was there before (the .NET runtime's).
thread_local sigjmp_buf* FaultJump = nullptr;
thread_local void* FaultAddress = nullptr;
struct sigaction PreviousSegv, PreviousBus;

void OnFault(int signal, siginfo_t* info, void* context)
{
    if (FaultJump != nullptr)
    {
        FaultAddress = info->si_addr;
        siglongjmp(*FaultJump, 1);
    }
    const struct sigaction& previous = signal == SIGSEGV ? PreviousSegv : PreviousBus;
    if (previous.sa_flags & SA_SIGINFO)
        previous.sa_sigaction(signal, info, context);
    else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN)
        previous.sa_handler(signal);
    else
    {
        sigaction(signal, &previous, nullptr);
        raise(signal);
    }
}

// Where a faulting address lies: "N bytes past the end of an allocation of M bytes", or not near any allocation.
std::string DescribeAddress(const void* address)
{
    auto at = reinterpret_cast<CUdeviceptr>(address);
    auto next = Allocations.upper_bound(at);
    if (next != Allocations.begin())
    {
        auto it = std::prev(next);
        if (at >= it->first + it->second.bytes && at < it->first + it->second.bytes + PageSize())
            return std::to_string(at - (it->first + it->second.bytes)) + " bytes past the end of an allocation of " +
                   std::to_string(it->second.bytes) + " bytes";
    }
    return "not in or just past any allocation";
}

CUresult Status(bool ok, CUresult error) { return ok ? CUDA_SUCCESS : error; }

struct Event
{
    bool recorded = false;
    std::chrono::steady_clock::time_point time;
};

struct Stream
{
};

std::set<Event*> Events;
std::set<Stream*> Streams;

// Handles are the addresses of objects this library owns, one set per kind.
template <typename T>
CUresult Create(std::set<T*>& handles, void** handle)
{
    if (handle == nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard guard(Lock);
    auto* object = new T();
    handles.insert(object);
    *handle = object;
    return CUDA_SUCCESS;
}

template <typename T>
CUresult Destroy(std::set<T*>& handles, void* handle)
{
    std::lock_guard guard(Lock);
    auto* object = static_cast<T*>(handle);
    if (handles.erase(object) == 0)
        return CUDA_ERROR_INVALID_HANDLE;
    delete object;
    return CUDA_SUCCESS;
}

// What went wrong in this thread's last launch, for cuGetErrorString.
thread_local CUresult LastLaunchError = CUDA_SUCCESS;
thread_local std::string LastLaunchFailure, LastLaunchDescription;

bool ValidStream(void* stream) { return stream == nullptr || Streams.count(static_cast<Stream*>(stream)) != 0; }

// A graph (cuGraphCreate): its kernel nodes (cuGraphAddKernelNode_v2), each with a copy of its arguments' values, in the
// order they were added, which is an order that respects every dependency (a node can only depend on nodes added before
// it). An executable graph (cuGraphInstantiateWithFlags) is a copy that remembers its graph, whose node handles
// cuGraphExecKernelNodeSetParams_v2 takes.
struct GraphNode;

struct Graph
{
    std::vector<std::unique_ptr<GraphNode>> nodes;
    const Graph* source = nullptr; // an executable graph's graph
};

struct GraphNode
{
    const Graph* graph;
    std::size_t index;
    const Kernel* kernel;
    uint3 grid, block;
    std::vector<std::vector<unsigned char>> arguments;
};

std::set<Graph*> Graphs, GraphExecs;
unsigned long long GraphLaunches = 0, GraphKernels = 0; // graph launches, and the kernel nodes they ran
} // namespace

// ------------------------------------------------------------------ the device dialect (cuda_device.h)

namespace emu
{
thread_local uint3 block_index, block_dim, grid_dim;

const uint3& thread_index() { return ThisBlock.current->thread; }

void sync_block(const char* file, int line)
{
    ThisBlock.current->barrier_site = {file, line};
    ThisBlock.current->state = FiberState::AtBlockBarrier;
    Yield();
}

float shuffle_down(unsigned int mask, float v, unsigned int delta)
{
    Block& block = ThisBlock;
    unsigned linear = block.current->linear, warp = linear / 32, lane = linear % 32;
    if (mask != 0xffffffffu)
        Fail("__shfl_down_sync with a mask of other than all 32 lanes is not emulated");
    if (block.warp_lanes(warp) != 32)
        Fail("__shfl_down_sync in a warp of " + std::to_string(block.warp_lanes(warp)) + " threads: the mask names all 32 lanes");
    for (unsigned l = 0; l < 32; l++)
        if (block.fibers[warp * 32 + l].state == FiberState::Exited)
            Fail("__shfl_down_sync: lane " + std::to_string(l) + " of the mask has exited");
    float* slots = &block.shuffle_slots[warp * 32];
    slots[lane] = v;
    block.current->state = FiberState::AtWarpBarrier;
    Yield();
    float result = lane + delta < 32 ? slots[lane + delta] : v;
    block.current->state = FiberState::AtWarpBarrier; // no lane writes its slot again before every lane has read
    Yield();
    return result;
}

void copy_async(void* shared, const void* global, unsigned bytes, bool valid)
{
    if (bytes == 16 && ((reinterpret_cast<std::uintptr_t>(shared) | (valid ? reinterpret_cast<std::uintptr_t>(global) : 0)) & 15) != 0)
        Fail("a 16-byte cp.async from or to an address that is not 16-byte aligned");
    AsyncCopy copy{shared, bytes, {}};
    if (valid)
        std::memcpy(copy.data, global, bytes); // a bad address faults here, in the thread that issued the copy
    if (CopiesLandAtIssue)
        std::memcpy(shared, copy.data, bytes);
    else
        ThisBlock.current->uncommitted_copies.push_back(copy);
}

void copy_async_commit()
{
    Fiber& f = *ThisBlock.current;
    f.copy_groups.push_back(std::move(f.uncommitted_copies));
    f.uncommitted_copies.clear();
}

void copy_async_wait(int pending)
{
    Fiber& f = *ThisBlock.current;
    for (; f.copy_groups.size() > static_cast<std::size_t>(pending); f.copy_groups.pop_front())
        for (const AsyncCopy& copy : f.copy_groups.front())
            std::memcpy(copy.shared, copy.data, copy.bytes);
}

void register_kernel(const char* name, void* function, Invoker invoke, int parameter_count, const unsigned char* parameter_sizes)
{
    KernelTable()[name] = Kernel{name, function, invoke, std::vector<unsigned char>(parameter_sizes, parameter_sizes + parameter_count)};
}
} // namespace emu

// ------------------------------------------------------------------ the driver API

EXPORT CUresult cuGetErrorName(CUresult error, const char** name)
{
    for (const ErrorText& e : Errors)
        if (e.code == error)
            return *name = e.name, CUDA_SUCCESS;
    return *name = nullptr, CUDA_ERROR_INVALID_VALUE;
}

// The driver's description, and for the error of this thread's last failed launch, what the emulator saw.
EXPORT CUresult cuGetErrorString(CUresult error, const char** description)
{
    for (const ErrorText& e : Errors)
        if (e.code == error)
        {
            if (error == LastLaunchError)
            {
                LastLaunchDescription = std::string(e.description) + " (emulator: " + LastLaunchFailure + ")";
                return *description = LastLaunchDescription.c_str(), CUDA_SUCCESS;
            }
            return *description = e.description, CUDA_SUCCESS;
        }
    return *description = nullptr, CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuInit(unsigned flags)
{
    if (flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard guard(Lock);
    Initialized = true;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int* version)
{
    if (version == nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    *version = DriverVersion;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int* count)
{
    if (!Initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    *count = 1;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(int* device, int ordinal)
{
    if (!Initialized)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (ordinal != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char* name, int length, int device)
{
    if (device != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    if (name == nullptr || length <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    std::snprintf(name, static_cast<std::size_t>(length), "%s", DeviceName);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int* value, int attribute, int device)
{
    if (device != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    switch (attribute)
    {
    case 16: *value = Multiprocessors; return CUDA_SUCCESS;  // MULTIPROCESSOR_COUNT
    case 75: *value = ComputeMajor; return CUDA_SUCCESS;                                  // COMPUTE_CAPABILITY_MAJOR
    case 76: *value = ComputeMinor; return CUDA_SUCCESS;                                  // COMPUTE_CAPABILITY_MINOR
    default: return CUDA_ERROR_INVALID_VALUE;
    }
}

EXPORT CUresult cuDeviceTotalMem_v2(std::size_t* bytes, int device)
{
    if (device != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *bytes = static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * PageSize();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetInfo_v2(std::size_t* free, std::size_t* total)
{
    if (free == nullptr || total == nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    *free = static_cast<std::size_t>(sysconf(_SC_AVPHYS_PAGES)) * PageSize(); // the emulator's device memory is the host's
    *total = static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * PageSize();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(void** context, int device)
{
    if (device != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard guard(Lock);
    PrimaryContextReferences++;
    *context = &PrimaryContextToken;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int device)
{
    if (device != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard guard(Lock);
    if (PrimaryContextReferences == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    PrimaryContextReferences--;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(void* context)
{
    return Status(context == nullptr || (context == &PrimaryContextToken && PrimaryContextReferences > 0), CUDA_ERROR_INVALID_CONTEXT);
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* pointer, std::size_t bytes)
{
    if (pointer == nullptr || bytes == 0)
        return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard guard(Lock);
    // The block ends where an inaccessible page begins, so reading or writing one element past it crashes. Its start is
    // thereby aligned to the lowest set bit of its size: 4 bytes for an odd number of floats, 16 for float4 buffers.
    std::size_t page = PageSize(), pages = (bytes + page - 1) / page * page;
    void* mapping = mmap(nullptr, pages + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED)
        return CUDA_ERROR_OUT_OF_MEMORY;
    mprotect(static_cast<char*>(mapping) + pages, page, PROT_NONE);
    char* start = static_cast<char*>(mapping) + pages - bytes;
    std::memset(start, 0xFF, bytes); // NaN as float32: a kernel that reads what nobody wrote shows it
    *pointer = reinterpret_cast<CUdeviceptr>(start);
    Allocations[*pointer] = Allocation{mapping, pages + page, bytes};
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr pointer)
{
    std::lock_guard guard(Lock);
    auto it = Allocations.find(pointer);
    if (it == Allocations.end())
        return CUDA_ERROR_INVALID_VALUE;
    munmap(it->second.mapping, it->second.mapping_bytes); // a later use of the pointer crashes
    Allocations.erase(it);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr destination, const void* source, std::size_t bytes)
{
    std::lock_guard guard(Lock);
    if (source == nullptr || Containing(destination, bytes) == nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    Copies++;
    std::memcpy(reinterpret_cast<void*>(destination), source, bytes);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyDtoH_v2(void* destination, CUdeviceptr source, std::size_t bytes)
{
    std::lock_guard guard(Lock);
    if (destination == nullptr || Containing(source, bytes) == nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    Copies++;
    std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
    return CUDA_SUCCESS;
}

// The stream's work runs when it is queued, so an asynchronous copy is done when it returns.
EXPORT CUresult cuMemcpyDtoHAsync_v2(void* destination, CUdeviceptr source, std::size_t bytes, void* stream)
{
    std::lock_guard guard(Lock);
    if (!ValidStream(stream))
        return CUDA_ERROR_INVALID_HANDLE;
    if (destination == nullptr || Containing(source, bytes) == nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    Copies++;
    std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
    return CUDA_SUCCESS;
}

// Page-locked host memory is host memory here.
EXPORT CUresult cuMemAllocHost_v2(void** pointer, std::size_t bytes)
{
    if (pointer == nullptr || bytes == 0)
        return CUDA_ERROR_INVALID_VALUE;
    *pointer = std::malloc(bytes);
    return *pointer == nullptr ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

EXPORT CUresult cuMemFreeHost(void* pointer)
{
    std::free(pointer);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamCreate(void** stream, unsigned flags) { return flags > 1 ? CUDA_ERROR_INVALID_VALUE : Create(Streams, stream); }

// Work runs when it is queued, so a stream is always idle.
EXPORT CUresult cuStreamSynchronize(void* stream)
{
    std::lock_guard guard(Lock);
    return Status(ValidStream(stream), CUDA_ERROR_INVALID_HANDLE);
}

EXPORT CUresult cuStreamDestroy_v2(void* stream) { return Destroy(Streams, stream); }

// Loads a module from PTX text: every .entry must be a kernel of this library with the same parameter sizes. A mismatch
// fails with CUDA_ERROR_INVALID_PTX and says why in the JIT error log (options 5 and 6), as the driver's JIT would.
EXPORT CUresult cuModuleLoadDataEx(void** module, const void* image, unsigned option_count, const int* options, void** option_values)
{
    if (module == nullptr || image == nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    char* error_log = nullptr;
    std::size_t error_log_bytes = 0;
    for (unsigned i = 0; i < option_count; i++)
    {
        if (options[i] == 5)
            error_log = static_cast<char*>(option_values[i]);
        else if (options[i] == 6)
            error_log_bytes = reinterpret_cast<std::uintptr_t>(option_values[i]);
    }
    auto fail = [&](const std::string& message) {
        if (error_log != nullptr && error_log_bytes > 0)
            std::snprintf(error_log, error_log_bytes, "%s", message.c_str());
        return CUDA_ERROR_INVALID_PTX;
    };
    std::lock_guard guard(Lock);
    auto entries = PtxEntries(static_cast<const char*>(image));
    if (entries.empty())
        return fail("emulator: no .entry in the image (it loads PTX text only)");
    auto result = std::make_unique<Module>();
    for (const auto& [name, sizes] : entries)
    {
        auto it = KernelTable().find(name);
        if (it == KernelTable().end())
            return fail("emulator: kernel " + name + " is in the PTX but not compiled into the emulator; rebuild it (tests/cuda-emulator/build.sh)");
        if (it->second.parameter_sizes != sizes)
            return fail("emulator: kernel " + name + " has other parameter sizes in the PTX than in the source compiled into the emulator; rebuild it");
        result->kernels.insert(&it->second);
    }
    *module = result.get();
    Modules.insert(result.release());
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(void** function, void* module, const char* name)
{
    std::lock_guard guard(Lock);
    auto* m = static_cast<Module*>(module);
    if (Modules.count(m) == 0)
        return CUDA_ERROR_INVALID_HANDLE;
    for (const Kernel* k : m->kernels)
        if (k->name == name)
            return *function = const_cast<Kernel*>(k), CUDA_SUCCESS;
    return CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult cuModuleUnload(void* module) { return Destroy(Modules, module); }

// Runs the grid, block after block, before it returns, in a shuffled order: a GPU tends to start blocks in index order
// and runs many at once, so a kernel that depends on the order of its blocks can pass there by luck, and fails here.
// The caller holds Lock.
static CUresult RunGrid(const Kernel* kernel, uint3 grid, uint3 dim, void** arguments)
{
    const unsigned grid_x = grid.x, grid_y = grid.y, grid_z = grid.z;
    const unsigned long long threads = static_cast<unsigned long long>(dim.x) * dim.y * dim.z;
    Block& block = ThisBlock;
    emu::grid_dim = grid;
    emu::block_dim = dim;
    auto report = [&](const std::string& message) {
        char where[160];
        std::snprintf(where, sizeof where, "%s, block (%u, %u, %u) of (%u, %u, %u), %llu threads: ", kernel->name.c_str(), emu::block_index.x,
                      emu::block_index.y, emu::block_index.z, grid_x, grid_y, grid_z, threads);
        LastLaunchFailure = where + message;
    };
    struct sigaction handler = {};
    handler.sa_sigaction = OnFault;
    handler.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&handler.sa_mask);
    sigaction(SIGSEGV, &handler, &PreviousSegv);
    sigaction(SIGBUS, &handler, &PreviousBus);
    const std::vector<unsigned long long>& order = DrawBlockOrder(static_cast<std::size_t>(grid_x) * grid_y * grid_z);
    CopiesLandAtIssue = (BlockOrderGenerator()() & 1) != 0;
    sigjmp_buf jump;
    volatile CUresult result = CUDA_SUCCESS; // volatile: it is read after a siglongjmp
    if (sigsetjmp(jump, 1) != 0)
    {
        const uint3& t = block.current->thread;
        char address[32];
        std::snprintf(address, sizeof address, "%p", FaultAddress);
        report("thread (" + std::to_string(t.x) + ", " + std::to_string(t.y) + ", " + std::to_string(t.z) + ") touched address " + address +
               ", " + DescribeAddress(FaultAddress));
        result = CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    else
    {
        FaultJump = &jump;
        for (std::size_t i = 0; i < order.size() && result == CUDA_SUCCESS; i++)
        {
            unsigned long long linear = order[i];
            emu::block_index = {static_cast<unsigned>(linear % grid_x), static_cast<unsigned>(linear / grid_x % grid_y),
                                static_cast<unsigned>(linear / grid_x / grid_y)};
            if (!RunBlock(block, *kernel, arguments, emu::block_dim))
            {
                report(*block.failure);
                block.failure.reset();
                result = CUDA_ERROR_LAUNCH_FAILED;
            }
        }
    }
    FaultJump = nullptr;
    LastLaunchError = result;
    sigaction(SIGSEGV, &PreviousSegv, nullptr);
    sigaction(SIGBUS, &PreviousBus, nullptr);
    return result;
}

namespace
{
// The kernel a CUfunction handle names, or null. Caller holds Lock.
const Kernel* FindKernel(void* function)
{
    for (const Module* m : Modules)
        if (m->kernels.count(static_cast<const Kernel*>(function)) != 0)
            return static_cast<const Kernel*>(function);
    return nullptr;
}

// What the driver checks of a launch, for cuLaunchKernel and for a graph's kernel nodes.
CUresult CheckLaunch(const Kernel* kernel, uint3 grid, uint3 block, unsigned shared_bytes, void** arguments)
{
    if (arguments == nullptr && !kernel->parameter_sizes.empty())
        return CUDA_ERROR_INVALID_VALUE;
    unsigned long long threads = static_cast<unsigned long long>(block.x) * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0 || grid.x > MaxGridX || grid.y > MaxGridYZ || grid.z > MaxGridYZ ||
        block.x > MaxBlockX || block.y > MaxBlockY || block.z > MaxBlockZ)
        return CUDA_ERROR_INVALID_VALUE;
    if (threads > MaxThreadsPerBlock || shared_bytes > EMU_SHARED_LIMIT)
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    return CUDA_SUCCESS;
}
} // namespace

// Runs the grid before it returns (RunGrid).
EXPORT CUresult cuLaunchKernel(void* function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x, unsigned block_y,
                               unsigned block_z, unsigned shared_bytes, void* stream, void** arguments, void** extra)
{
    std::lock_guard guard(Lock);
    const Kernel* kernel = FindKernel(function);
    if (kernel == nullptr || !ValidStream(stream))
        return CUDA_ERROR_INVALID_HANDLE;
    if (extra != nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    if (CUresult invalid = CheckLaunch(kernel, {grid_x, grid_y, grid_z}, {block_x, block_y, block_z}, shared_bytes, arguments); invalid != CUDA_SUCCESS)
        return invalid;
    KernelLaunches++;
    return RunGrid(kernel, {grid_x, grid_y, grid_z}, {block_x, block_y, block_z}, arguments);
}

EXPORT CUresult cuGraphCreate(void** graph, unsigned flags)
{
    if (graph == nullptr || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard guard(Lock);
    auto* g = new Graph();
    Graphs.insert(g);
    *graph = g;
    return CUDA_SUCCESS;
}

// CUDA_KERNEL_NODE_PARAMS_v2 (cuda.h): kern and ctx are read only when func is null, which the emulator does not support.
struct KernelNodeParams
{
    void* func;
    unsigned grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_bytes;
    void** kernel_params;
    void** extra;
    void* kern;
    void* ctx;
};

namespace
{
// The node's kernel, grid, block and a copy of its arguments' values, after the checks cuLaunchKernel makes. Caller holds Lock.
CUresult SetNode(GraphNode& node, const KernelNodeParams* p)
{
    if (p == nullptr || p->extra != nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    const Kernel* kernel = FindKernel(p->func);
    if (kernel == nullptr)
        return CUDA_ERROR_INVALID_HANDLE;
    if (CUresult invalid = CheckLaunch(kernel, {p->grid_x, p->grid_y, p->grid_z}, {p->block_x, p->block_y, p->block_z}, p->shared_bytes, p->kernel_params);
        invalid != CUDA_SUCCESS)
        return invalid;
    node.kernel = kernel;
    node.grid = {p->grid_x, p->grid_y, p->grid_z};
    node.block = {p->block_x, p->block_y, p->block_z};
    node.arguments.clear();
    for (std::size_t i = 0; i < kernel->parameter_sizes.size(); i++)
    {
        auto* value = static_cast<const unsigned char*>(p->kernel_params[i]);
        node.arguments.emplace_back(value, value + kernel->parameter_sizes[i]);
    }
    return CUDA_SUCCESS;
}
} // namespace

// Every dependency must be a node of the same graph.
EXPORT CUresult cuGraphAddKernelNode_v2(void** node, void* graph, void* const* dependencies, std::size_t dependency_count, const KernelNodeParams* parameters)
{
    std::lock_guard guard(Lock);
    auto* g = static_cast<Graph*>(graph);
    if (node == nullptr || (dependency_count > 0 && dependencies == nullptr))
        return CUDA_ERROR_INVALID_VALUE;
    if (Graphs.count(g) == 0)
        return CUDA_ERROR_INVALID_HANDLE;
    for (std::size_t i = 0; i < dependency_count; i++)
    {
        auto* d = static_cast<const GraphNode*>(dependencies[i]);
        if (std::none_of(g->nodes.begin(), g->nodes.end(), [d](const auto& n) { return n.get() == d; }))
            return CUDA_ERROR_INVALID_VALUE;
    }
    auto added = std::make_unique<GraphNode>(GraphNode{g, g->nodes.size(), nullptr, {}, {}, {}});
    if (CUresult result = SetNode(*added, parameters); result != CUDA_SUCCESS)
        return result;
    *node = added.get();
    g->nodes.push_back(std::move(added));
    return CUDA_SUCCESS;
}

// An executable graph is a copy of the graph's nodes; the graph must outlive it for its node handles to be used.
EXPORT CUresult cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long flags)
{
    std::lock_guard guard(Lock);
    if (exec == nullptr || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    auto* g = static_cast<Graph*>(graph);
    if (Graphs.count(g) == 0)
        return CUDA_ERROR_INVALID_HANDLE;
    auto* copy = new Graph();
    copy->source = g;
    for (const auto& n : g->nodes)
        copy->nodes.push_back(std::make_unique<GraphNode>(*n));
    GraphExecs.insert(copy);
    *exec = copy;
    return CUDA_SUCCESS;
}

// The node's new parameters, for the executable graph's later launches. The node must be one of the graph it was
// instantiated from, and keep its kernel (the driver allows another function of the same context; nothing here needs it).
EXPORT CUresult cuGraphExecKernelNodeSetParams_v2(void* exec, void* node, const KernelNodeParams* parameters)
{
    std::lock_guard guard(Lock);
    auto* e = static_cast<Graph*>(exec);
    auto* n = static_cast<const GraphNode*>(node);
    if (GraphExecs.count(e) == 0 || Graphs.count(const_cast<Graph*>(e->source)) == 0)
        return CUDA_ERROR_INVALID_HANDLE;
    if (n == nullptr || n->graph != e->source || parameters == nullptr || parameters->func != n->kernel)
        return CUDA_ERROR_INVALID_VALUE;
    return SetNode(*e->nodes[n->index], parameters);
}

// Runs the graph's nodes in the order they were added, before it returns.
EXPORT CUresult cuGraphLaunch(void* exec, void* stream)
{
    std::lock_guard guard(Lock);
    auto* g = static_cast<Graph*>(exec);
    if (GraphExecs.count(g) == 0 || !ValidStream(stream))
        return CUDA_ERROR_INVALID_HANDLE;
    GraphLaunches++;
    std::vector<void*> pointers;
    for (auto& node : g->nodes)
    {
        pointers.clear();
        for (auto& value : node->arguments)
            pointers.push_back(value.data());
        GraphKernels++;
        if (CUresult result = RunGrid(node->kernel, node->grid, node->block, pointers.data()); result != CUDA_SUCCESS)
            return result;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphExecDestroy(void* exec) { return Destroy(GraphExecs, exec); }

EXPORT CUresult cuGraphDestroy(void* graph) { return Destroy(Graphs, graph); }

EXPORT CUresult cuEventCreate(void** event, unsigned flags) { return flags > 0xF ? CUDA_ERROR_INVALID_VALUE : Create(Events, event); }

EXPORT CUresult cuEventRecord(void* event, void* stream)
{
    std::lock_guard guard(Lock);
    auto* e = static_cast<Event*>(event);
    if (Events.count(e) == 0 || !ValidStream(stream))
        return CUDA_ERROR_INVALID_HANDLE;
    e->recorded = true;
    e->time = std::chrono::steady_clock::now();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventSynchronize(void* event)
{
    std::lock_guard guard(Lock);
    return Status(Events.count(static_cast<Event*>(event)) != 0, CUDA_ERROR_INVALID_HANDLE);
}

EXPORT CUresult cuEventElapsedTime(float* milliseconds, void* start, void* end)
{
    std::lock_guard guard(Lock);
    auto *s = static_cast<Event*>(start), *e = static_cast<Event*>(end);
    if (milliseconds == nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    if (Events.count(s) == 0 || Events.count(e) == 0)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!s->recorded || !e->recorded)
        return CUDA_ERROR_INVALID_HANDLE;
    *milliseconds = std::chrono::duration<float, std::milli>(e->time - s->time).count();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventElapsedTime_v2(float* milliseconds, void* start, void* end) { return cuEventElapsedTime(milliseconds, start, end); }

EXPORT CUresult cuEventDestroy_v2(void* event) { return Destroy(Events, event); }

// Not a driver call: the emulator's own counts for tests, made in this process so far: the kernel launches
// (cuLaunchKernel), the graph launches, the kernel nodes those ran, and the copies between host and device
// (cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoHAsync).
EXPORT CUresult kernellabEmulatorCounts(unsigned long long* kernel_launches, unsigned long long* graph_launches, unsigned long long* graph_kernels,
                                        unsigned long long* copies)
{
    if (kernel_launches == nullptr || graph_launches == nullptr || graph_kernels == nullptr || copies == nullptr)
        return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard guard(Lock);
    *kernel_launches = KernelLaunches;
    *graph_launches = GraphLaunches;
    *graph_kernels = GraphKernels;
    *copies = Copies;
    return CUDA_SUCCESS;
}
