using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace KernelLab.Backends.Cuda.Native;

/// <summary>
/// The driver API calls this backend makes (cuda.h), bound to <c>libcuda.so.1</c>. Where cuda.h #defines a name to a
/// versioned entry point (cuMemAlloc to cuMemAlloc_v2, ...), the versioned one is bound. Handles (CUcontext, CUmodule,
/// CUfunction, CUstream, CUevent) are pointers; CUdevice is an int; CUdeviceptr is a 64-bit integer; size_t is nuint.
/// </summary>
internal static unsafe partial class CudaDriver
{
    public const string Library = "libcuda.so.1";

    public const int Success = 0; // CUDA_SUCCESS

    // CUdevice_attribute
    public const int AttributeMultiprocessorCount = 16;
    public const int AttributeComputeCapabilityMajor = 75;
    public const int AttributeComputeCapabilityMinor = 76;

    // CUjit_option
    public const int JitInfoLogBuffer = 3;
    public const int JitInfoLogBufferSizeBytes = 4;
    public const int JitErrorLogBuffer = 5;
    public const int JitErrorLogBufferSizeBytes = 6;

    [LibraryImport(Library)] public static partial int cuInit(uint flags);
    [LibraryImport(Library)] public static partial int cuDriverGetVersion(int* driverVersion);
    [LibraryImport(Library)] public static partial int cuDeviceGetCount(int* count);
    [LibraryImport(Library)] public static partial int cuDeviceGet(int* device, int ordinal);
    [LibraryImport(Library)] public static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Library)] public static partial int cuDeviceGetAttribute(int* value, int attribute, int device);
    [LibraryImport(Library)] public static partial int cuDeviceTotalMem_v2(nuint* bytes, int device);
    [LibraryImport(Library)] public static partial int cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(Library)] public static partial int cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Library)] public static partial int cuCtxSetCurrent(nint context);
    [LibraryImport(Library)] public static partial int cuMemAlloc_v2(ulong* pointer, nuint bytes);
    [LibraryImport(Library)] public static partial int cuMemGetInfo_v2(nuint* free, nuint* total);
    [LibraryImport(Library)] public static partial int cuMemFree_v2(ulong pointer);
    [LibraryImport(Library)] public static partial int cuMemcpyHtoD_v2(ulong destination, void* source, nuint bytes);
    [LibraryImport(Library)] public static partial int cuMemcpyDtoH_v2(void* destination, ulong source, nuint bytes);
    [LibraryImport(Library)] public static partial int cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Library)] public static partial int cuMemAllocHost_v2(void** pointer, nuint bytes);
    [LibraryImport(Library)] public static partial int cuMemFreeHost(void* pointer);
    [LibraryImport(Library)] public static partial int cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(Library)] public static partial int cuStreamSynchronize(nint stream);
    [LibraryImport(Library)] public static partial int cuStreamDestroy_v2(nint stream);
    [LibraryImport(Library)] public static partial int cuModuleLoadDataEx(nint* module, void* image, uint optionCount, int* options, void** optionValues);
    [LibraryImport(Library)] public static partial int cuModuleGetFunction(nint* function, nint module, byte* name);
    [LibraryImport(Library)] public static partial int cuModuleUnload(nint module);

    [LibraryImport(Library)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemoryBytes, nint stream, void** kernelParams, void** extra);

    [LibraryImport(Library)] public static partial int cuGraphCreate(nint* graph, uint flags);
    [LibraryImport(Library)] public static partial int cuGraphInstantiateWithFlags(nint* graphExec, nint graph, ulong flags);
    [LibraryImport(Library)] public static partial int cuGraphLaunch(nint graphExec, nint stream);
    [LibraryImport(Library)] public static partial int cuGraphExecDestroy(nint graphExec);
    [LibraryImport(Library)] public static partial int cuGraphDestroy(nint graph);

    /// <summary>
    /// CUDA_KERNEL_NODE_PARAMS_v2 (cuda.h, CUDA 12): CUDA 11's struct followed by <c>kern</c> and <c>ctx</c>, which are read
    /// only when <c>func</c> is null, so the same struct, with them 0, serves both entry points' versions.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct KernelNodeParams
    {
        public nint Function;
        public uint GridX, GridY, GridZ, BlockX, BlockY, BlockZ;
        public uint SharedMemoryBytes;
        public void** KernelParams;
        public void** Extra;
        public nint Kernel, Context;
    }

    /// <summary>cuGraphAddKernelNode(CUgraphNode*, CUgraph, const CUgraphNode* dependencies, size_t count, params*): _v2 where the driver has it (CUDA 12), else CUDA 11's.</summary>
    public static int GraphAddKernelNode(nint* node, nint graph, nint* dependencies, nuint count, KernelNodeParams* parameters) =>
        ((delegate* unmanaged<nint*, nint, nint*, nuint, KernelNodeParams*, int>)AddKernelNodeEntryPoint.Value)(node, graph, dependencies, count, parameters);

    /// <summary>cuGraphExecKernelNodeSetParams(CUgraphExec, CUgraphNode, params*): a kernel node's arguments changed in an instantiated graph; _v2 where the driver has it.</summary>
    public static int GraphExecKernelNodeSetParams(nint graphExec, nint node, KernelNodeParams* parameters) =>
        ((delegate* unmanaged<nint, nint, KernelNodeParams*, int>)SetKernelNodeParamsEntryPoint.Value)(graphExec, node, parameters);

    private static readonly Lazy<nint> AddKernelNodeEntryPoint = new(() => EntryPoint("cuGraphAddKernelNode"));
    private static readonly Lazy<nint> SetKernelNodeParamsEntryPoint = new(() => EntryPoint("cuGraphExecKernelNodeSetParams"));

    [LibraryImport(Library)] public static partial int cuEventCreate(nint* evt, uint flags);
    [LibraryImport(Library)] public static partial int cuEventRecord(nint evt, nint stream);
    [LibraryImport(Library)] public static partial int cuEventSynchronize(nint evt);
    [LibraryImport(Library)] public static partial int cuEventDestroy_v2(nint evt);
    [LibraryImport(Library)] public static partial int cuGetErrorName(int error, byte** name);
    [LibraryImport(Library)] public static partial int cuGetErrorString(int error, byte** description);

    /// <summary>
    /// cuEventElapsedTime(float*, CUevent, CUevent): CUDA 12.8 added cuEventElapsedTime_v2 with the same signature, and
    /// CUDA 13's cuda.h maps the name to it, so the entry point is looked up at run time: _v2 where the driver has it.
    /// </summary>
    public static int EventElapsedTime(float* milliseconds, nint start, nint end)
    {
        var function = (delegate* unmanaged<float*, nint, nint, int>)ElapsedTimeEntryPoint.Value;
        return function(milliseconds, start, end);
    }

    private static readonly Lazy<nint> ElapsedTimeEntryPoint = new(() => EntryPoint("cuEventElapsedTime"));

    /// <summary>The driver's NAME_v2 where it exports one, else NAME: the entry points whose cuda.h name moved to _v2 in CUDA 12 or later.</summary>
    private static nint EntryPoint(string name)
    {
        nint library = NativeLibrary.Load(Library);
        return NativeLibrary.TryGetExport(library, name + "_v2", out nint v2) ? v2 : NativeLibrary.GetExport(library, name);
    }

    /// <summary>The one check of every driver call: throws <see cref="CudaException"/> with the status's name (cuGetErrorName) and the call.</summary>
    /// <summary>CUDA_ERROR_OUT_OF_MEMORY.</summary>
    public const int OutOfMemory = 2;

    public static void Check(int result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != Success)
            throw new CudaException(ErrorName(result), call, ErrorDescription(result));
    }

    public static string ErrorName(int result)
    {
        byte* name = null;
        return cuGetErrorName(result, &name) == Success && name != null ? Marshal.PtrToStringUTF8((nint)name)! : $"CUresult {result}";
    }

    public static string? ErrorDescription(int result)
    {
        byte* description = null;
        return cuGetErrorString(result, &description) == Success && description != null ? Marshal.PtrToStringUTF8((nint)description) : null;
    }
}
