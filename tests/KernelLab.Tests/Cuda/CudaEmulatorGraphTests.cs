using System.Runtime.InteropServices;
using static KernelLab.Backends.Cuda.Native.CudaDriver;

namespace KernelLab.Tests;

/// <summary>
/// The CUDA emulator's graphs: launches queued on a capturing stream are recorded, not run, and a graph launch runs them
/// in order; a call that would wait for the device during a capture fails it, as the driver does in the global capture
/// mode. Skipped unless libcuda.so.1 is the emulator.
/// </summary>
[Collection(nameof(CudaEmulatorAlone))]
public sealed unsafe partial class CudaEmulatorGraphTests
{
    private const int Threads = 64, Length = 257, CaptureModeGlobal = 0;

    [LibraryImport(Library)] private static partial int cuStreamBeginCapture_v2(nint stream, int mode);
    [LibraryImport(Library)] private static partial int cuStreamEndCapture(nint stream, nint* graph);
    [LibraryImport(Library)] private static partial int cuStreamIsCapturing(nint stream, int* status);
    [LibraryImport(Library)] private static partial int cuGraphInstantiateWithFlags(nint* exec, nint graph, ulong flags);
    [LibraryImport(Library)] private static partial int cuGraphLaunch(nint exec, nint stream);
    [LibraryImport(Library)] private static partial int cuGraphExecDestroy(nint exec);
    [LibraryImport(Library)] private static partial int cuGraphDestroy(nint graph);

    [Fact]
    public void CapturedLaunches_RunOnlyWhenTheGraphLaunches()
    {
        WithKernel("warp_sums", (function, stream, y) =>
        {
            long n = Length;
            void** arguments = stackalloc void*[] { &y, &n };
            var before = EmulatorCounts.Read();
            Check(cuStreamBeginCapture_v2(stream, CaptureModeGlobal));
            int status;
            Check(cuStreamIsCapturing(stream, &status));
            Assert.Equal(1, status); // CU_STREAM_CAPTURE_STATUS_ACTIVE
            Check(cuLaunchKernel(function, 1, 1, 1, Threads, 1, 1, 0, stream, arguments, null));
            nint graph, exec;
            Check(cuStreamEndCapture(stream, &graph));
            Check(cuGraphInstantiateWithFlags(&exec, graph, 0));
            Check(cuGraphDestroy(graph)); // the executable graph is a copy
            Assert.True(float.IsNaN(Download(y)[0]), "a captured launch ran");
            Check(cuGraphLaunch(exec, stream));
            Check(cuGraphLaunch(exec, stream));
            Check(cuStreamSynchronize(stream));
            float[] host = Download(y);
            Check(cuGraphExecDestroy(exec));
            Assert.All(host.AsSpan(0, Threads).ToArray(), v => Assert.Equal(496f, v));
            Assert.Equal(new EmulatorCounts(0, 2, 2), EmulatorCounts.Read() - before); // two copies: the two downloads
        });
    }

    [Fact]
    public void CopyDuringCapture_FailsAndInvalidatesTheCapture()
    {
        WithKernel("warp_sums", (function, stream, y) =>
        {
            float value;
            Check(cuStreamBeginCapture_v2(stream, CaptureModeGlobal));
            Assert.Equal("CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", ErrorName(cuMemcpyDtoH_v2(&value, y, sizeof(float))));
            int status;
            Check(cuStreamIsCapturing(stream, &status));
            Assert.Equal(2, status); // CU_STREAM_CAPTURE_STATUS_INVALIDATED
            nint graph = 1;
            Assert.Equal("CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", ErrorName(cuStreamEndCapture(stream, &graph)));
            Assert.Equal(0, graph);
            Check(cuStreamIsCapturing(stream, &status));
            Assert.Equal(0, status);
        });
    }

    /// <summary>Runs <paramref name="test"/> with a kernel of faults.cu, a stream of its own and y [Length] on the emulator.</summary>
    private static void WithKernel(string kernelName, Action<nint, nint, ulong> test) =>
        CudaEmulatorTests.WithFaultsKernel(kernelName, (function, y) =>
        {
            nint stream;
            Check(cuStreamCreate(&stream, 0));
            try
            {
                test(function, stream, y);
            }
            finally
            {
                // A test that failed mid-capture ends it here: while it lasts, every other copy of the process fails.
                int status;
                nint graph;
                if (cuStreamIsCapturing(stream, &status) == Success && status != 0 && cuStreamEndCapture(stream, &graph) == Success)
                    cuGraphDestroy(graph);
                cuStreamDestroy_v2(stream);
            }
        });

    private static float[] Download(ulong y)
    {
        var host = new float[Length];
        fixed (float* p = host)
            Check(cuMemcpyDtoH_v2(p, y, Length * sizeof(float)));
        return host;
    }
}
