using System.Runtime.InteropServices;
using System.Text;
using KernelLab.Backends.Cuda;
using KernelLab.Backends.Cuda.Native;
using static KernelLab.Backends.Cuda.Native.CudaDriver;

namespace KernelLab.Tests;

/// <summary>
/// The CUDA emulator's own checks (tests/cuda-emulator): the kernels of faults.cu, compiled by NVRTC and launched through
/// the driver API, each fail their launch with the error a GPU reports and the emulator's description of where. The cuda
/// rows that pass on the emulator mean something only while these faults are caught. Skipped unless libcuda.so.1 is the
/// emulator (.ci/run puts it on LD_LIBRARY_PATH).
/// </summary>
public sealed unsafe class CudaEmulatorTests
{
    private const string EmulatorName = "KernelLab CUDA emulator (CPU)";
    private const int Threads = 64, Length = 257; // one block of two warps; y has 257 floats

    [Fact]
    public void Control_WarpShufflesAndBarrier_GiveTheWarpSums()
    {
        var (result, y) = Launch("warp_sums");
        Assert.Equal(Success, result);
        Assert.All(y.AsSpan(0, Threads).ToArray(), v => Assert.Equal(496f, v)); // 0 + 1 + ... + 31
        Assert.True(float.IsNaN(y[Threads]), "an allocation starts as NaN");
    }

    [Fact]
    public void BlocksRunInAFreshShuffledOrder_EveryLaunch()
    {
        const int blocks = 8;
        var orders = Enumerable.Range(0, 4).Select(_ =>
        {
            var (result, y) = Launch("block_order", blocks);
            Assert.Equal(Success, result);
            return string.Join(" ", y.Take(blocks));
        }).ToList();
        Assert.All(orders, order => Assert.Equal("0 1 2 3 4 5 6 7", string.Join(" ", order.Split(' ').Select(int.Parse).Order())));
        Assert.True(orders.Distinct().Count() > 1, $"every launch ran its blocks in the order {orders[0]}");
    }

    [Fact]
    public void ReadingAnotherBlocksOutput_ShowsAsNaN_InSomeLaunch()
    {
        var reads = Enumerable.Range(0, 16).Select(_ =>
        {
            var (result, y) = Launch("reads_earlier_block", blocks: 2);
            Assert.Equal(Success, result);
            Assert.Equal(1f, y[0]);
            return y[1];
        }).ToList();
        Assert.Contains(reads, float.IsNaN); // block 1 ran before block 0
    }

    [Theory]
    [InlineData("overrun", "CUDA_ERROR_ILLEGAL_ADDRESS", "thread (63, 0, 0) touched address 0x", "0 bytes past the end of an allocation of 1028 bytes")]
    [InlineData("barrier_after_exit", "CUDA_ERROR_LAUNCH_FAILED", "__syncthreads reached by 32 threads after 32 threads of the block exited")]
    [InlineData("divergent_barrier", "CUDA_ERROR_LAUNCH_FAILED", "threads wait at different __syncthreads: thread 0 at line", "thread 32 at line")]
    [InlineData("shuffle_missing_lane", "CUDA_ERROR_LAUNCH_FAILED", "__shfl_down_sync: lane 5 of the mask has exited")]
    public void Fault_FailsItsLaunch_AndSaysWhere(string kernel, string error, params string[] details)
    {
        var (result, _) = Launch(kernel);
        Assert.Equal(error, ErrorName(result));
        string description = ErrorDescription(result) ?? "";
        Assert.Contains($"(emulator: {kernel}, block (0, 0, 0) of (1, 1, 1), {Threads} threads: ", description);
        Assert.All(details, detail => Assert.Contains(detail, description));
    }

    /// <summary>faults.cu compiled by NVRTC, once for all the tests.</summary>
    internal static readonly Lazy<Nvrtc.Compilation> FaultsPtx = new(() =>
        Nvrtc.Load(driverVersion: null).Compile("faults.cu", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "cuda-emulator", "faults.cu")), [],
            ["--gpu-architecture=compute_80"]));

    /// <summary>Launches one kernel of faults.cu on blocks of <see cref="Threads"/> threads over y [Length], returns the launch's status and y.</summary>
    private static (int Result, float[] Y) Launch(string kernelName, uint blocks = 1)
    {
        (int, float[]) outcome = default;
        WithFaultsKernel(kernelName, (function, y) =>
        {
            long n = Length;
            void** arguments = stackalloc void*[] { &y, &n };
            int result = cuLaunchKernel(function, blocks, 1, 1, Threads, 1, 1, 0, 0, arguments, null);
            var host = new float[Length];
            fixed (float* p = host)
                Check(cuMemcpyDtoH_v2(p, y, Length * sizeof(float)));
            outcome = (result, host);
        });
        return outcome;
    }

    /// <summary>Runs <paramref name="body"/> with kernel <paramref name="kernelName"/> of faults.cu and y [Length] on the emulator, then frees both.</summary>
    internal static void WithFaultsKernel(string kernelName, Action<nint, ulong> body)
    {
        RequireEmulator();
        CudaKernelTests.RequireNvrtc();
        var compilation = FaultsPtx.Value;
        Assert.True(compilation.Succeeded, compilation.Log);

        nint context, module, function;
        Check(cuDevicePrimaryCtxRetain(&context, 0));
        try
        {
            Check(cuCtxSetCurrent(context));
            byte[] image = Encoding.UTF8.GetBytes(compilation.Ptx + "\0");
            fixed (byte* p = image)
                Check(cuModuleLoadDataEx(&module, p, 0, null, null));
            ulong y;
            Check(cuMemAlloc_v2(&y, Length * sizeof(float)));
            try
            {
                byte[] name = Encoding.UTF8.GetBytes(kernelName + "\0");
                fixed (byte* p = name)
                    Check(cuModuleGetFunction(&function, module, p));
                body(function, y);
            }
            finally
            {
                cuMemFree_v2(y);
                cuModuleUnload(module);
            }
        }
        finally
        {
            cuDevicePrimaryCtxRelease_v2(0);
        }
    }

    internal static void RequireEmulator()
    {
        if (!NativeLibrary.TryLoad(Library, out _))
            Assert.Skip($"{Library} not found: build the emulator with tests/cuda-emulator/build.sh DIR and run with LD_LIBRARY_PATH=DIR");
        Check(cuInit(0));
        byte* name = stackalloc byte[256];
        Check(cuDeviceGetName(name, 256, 0));
        if (Marshal.PtrToStringUTF8((nint)name) is var device && device != EmulatorName)
            Assert.Skip($"{Library} is the driver of '{device}', not the CUDA emulator");
    }
}
