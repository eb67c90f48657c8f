using System.Runtime.InteropServices;

namespace KernelLab.Backends.OpenCL;

/// <summary>
/// The OpenCL API as the backend uses it, and nothing more: declarations of Khronos cl.h, bound to the ICD loader.
/// Handles are nint here; <see cref="ClHandle"/> owns them. Every status goes through <see cref="OpenClException.Check"/>.
/// </summary>
internal static unsafe partial class Native
{
    private const string Library = "libOpenCL.so.1";

    // cl.h constants (cl_device_type, cl_*_info names, flags).
    public const ulong DeviceTypeAll = 0xFFFFFFFF;
    public const uint PlatformVersion = 0x0901, PlatformName = 0x0902;
    public const uint DeviceType = 0x1000, DeviceMaxComputeUnits = 0x1002, DeviceMaxWorkGroupSize = 0x1004;
    public const uint DeviceGlobalMemSize = 0x101F, DeviceLocalMemSize = 0x1023, DeviceAvailable = 0x1027, DeviceCompilerAvailable = 0x1028;
    public const uint DeviceName = 0x102B, DeviceVendor = 0x102C, DriverVersion = 0x102D, DeviceVersion = 0x102F;
    public const uint DeviceOpenClCVersion = 0x103D;
    public const ulong DeviceTypeCpu = 1 << 1, DeviceTypeGpu = 1 << 2;
    public const ulong QueueProperties = 0x1093, QueueProfilingEnable = 1 << 1;
    public const ulong MemReadWrite = 1 << 0;
    public const nint ContextPlatform = 0x1084;
    public const uint ProgramBinarySizes = 0x1165, ProgramBinaries = 0x1166, ProgramBuildLog = 0x1183;
    public const uint ProfilingCommandStart = 0x1282, ProfilingCommandEnd = 0x1283;
    public const int Success = 0, PlatformNotFoundKhr = -1001, DeviceNotFound = -1;

    [LibraryImport(Library)]
    public static partial int clGetPlatformIDs(uint numEntries, nint* platforms, uint* numPlatforms);

    [LibraryImport(Library)]
    public static partial int clGetPlatformInfo(nint platform, uint paramName, nuint valueSize, void* value, nuint* valueSizeRet);

    [LibraryImport(Library)]
    public static partial int clGetDeviceIDs(nint platform, ulong deviceType, uint numEntries, nint* devices, uint* numDevices);

    [LibraryImport(Library)]
    public static partial int clGetDeviceInfo(nint device, uint paramName, nuint valueSize, void* value, nuint* valueSizeRet);

    [LibraryImport(Library)]
    public static partial nint clCreateContext(nint* properties, uint numDevices, nint* devices, nint notify, nint userData, int* errcode);

    [LibraryImport(Library)]
    public static partial int clReleaseContext(nint context);

    [LibraryImport(Library)]
    public static partial nint clCreateCommandQueueWithProperties(nint context, nint device, ulong* properties, int* errcode);

    [LibraryImport(Library)]
    public static partial int clReleaseCommandQueue(nint queue);

    [LibraryImport(Library)]
    public static partial int clFinish(nint queue);

    [LibraryImport(Library)]
    public static partial nint clCreateBuffer(nint context, ulong flags, nuint size, void* hostPtr, int* errcode);

    [LibraryImport(Library)]
    public static partial int clReleaseMemObject(nint memory);

    [LibraryImport(Library)]
    public static partial int clEnqueueWriteBuffer(nint queue, nint buffer, uint blocking, nuint offset, nuint size, void* source, uint numEvents, nint* waitList, nint* evt);

    [LibraryImport(Library)]
    public static partial int clEnqueueReadBuffer(nint queue, nint buffer, uint blocking, nuint offset, nuint size, void* destination, uint numEvents, nint* waitList, nint* evt);

    [LibraryImport(Library)]
    public static partial nint clCreateProgramWithSource(nint context, uint count, byte** strings, nuint* lengths, int* errcode);

    [LibraryImport(Library)]
    public static partial nint clCreateProgramWithBinary(nint context, uint numDevices, nint* devices, nuint* lengths, byte** binaries, int* binaryStatus, int* errcode);

    [LibraryImport(Library)]
    public static partial int clBuildProgram(nint program, uint numDevices, nint* devices, byte* options, nint notify, nint userData);

    [LibraryImport(Library)]
    public static partial int clGetProgramBuildInfo(nint program, nint device, uint paramName, nuint valueSize, void* value, nuint* valueSizeRet);

    [LibraryImport(Library)]
    public static partial int clGetProgramInfo(nint program, uint paramName, nuint valueSize, void* value, nuint* valueSizeRet);

    [LibraryImport(Library)]
    public static partial int clReleaseProgram(nint program);

    [LibraryImport(Library)]
    public static partial nint clCreateKernel(nint program, byte* name, int* errcode);

    [LibraryImport(Library)]
    public static partial int clReleaseKernel(nint kernel);

    [LibraryImport(Library)]
    public static partial int clSetKernelArg(nint kernel, uint index, nuint size, void* value);

    [LibraryImport(Library)]
    public static partial int clEnqueueNDRangeKernel(nint queue, nint kernel, uint workDim, nuint* globalOffset, nuint* globalSize, nuint* localSize, uint numEvents, nint* waitList, nint* evt);

    [LibraryImport(Library)]
    public static partial int clGetEventProfilingInfo(nint evt, uint paramName, nuint valueSize, void* value, nuint* valueSizeRet);

    [LibraryImport(Library)]
    public static partial int clReleaseEvent(nint evt);
}
