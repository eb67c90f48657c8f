using static KernelLab.Backends.Cuda.Native.CudaDriver;

namespace KernelLab.Tests;

/// <summary>
/// The CUDA emulator's graphs, as the cuda backend builds them: kernel nodes added to a graph (cuGraphAddKernelNode_v2)
/// run only when the instantiated graph launches, in order, and a node's parameters set in the instance
/// (cuGraphExecKernelNodeSetParams_v2) are what its next launch uses. Skipped unless libcuda.so.1 is the emulator.
/// </summary>
[Collection(nameof(CudaEmulatorAlone))]
public sealed unsafe class CudaEmulatorGraphTests
{
    private const int Threads = 64, Length = 257;

    [Fact]
    public void KernelNodes_RunOnlyWhenTheGraphLaunches_WithTheirLatestParameters()
    {
        CudaEmulatorTests.WithFaultsKernel("warp_sums", (function, y) =>
        {
            long n = 0;
            void** arguments = stackalloc void*[] { &y, &n };
            var node = new KernelNodeParams { Function = function, GridX = 1, GridY = 1, GridZ = 1, BlockX = Threads, BlockY = 1, BlockZ = 1, KernelParams = arguments };
            nint graph, exec, first, second;
            var before = EmulatorCounts.Read();
            Check(cuGraphCreate(&graph, 0));
            try
            {
                Check(GraphAddKernelNode(&first, graph, null, 0, &node)); // writes no element
                n = Length;
                Check(GraphAddKernelNode(&second, graph, &first, 1, &node)); // writes all 64
                n = 5; // each node holds a copy of the arguments' values, taken when it was added
                Check(cuGraphInstantiateWithFlags(&exec, graph, 0));
                Assert.True(float.IsNaN(Download(y)[0]), "a kernel node ran before its graph launched");
                Check(cuGraphLaunch(exec, 0));
                Assert.All(Download(y).AsSpan(0, Threads).ToArray(), v => Assert.Equal(496f, v));

                Upload(y, float.NaN);
                n = 3; // the second node now writes 3 elements
                Check(GraphExecKernelNodeSetParams(exec, second, &node));
                Check(cuGraphLaunch(exec, 0));
                float[] host = Download(y);
                Assert.All(host.AsSpan(0, 3).ToArray(), v => Assert.Equal(496f, v));
                Assert.True(float.IsNaN(host[3]), "the node ran with the arguments it was added with");

                Assert.Equal("CUDA_ERROR_INVALID_VALUE", ErrorName(GraphExecKernelNodeSetParams(exec, 0, &node)));
                Check(cuGraphExecDestroy(exec));
            }
            finally
            {
                cuGraphDestroy(graph);
            }
            Assert.Equal(new EmulatorCounts(0, 2, 4, 4), EmulatorCounts.Read() - before); // 2 nodes a launch; three downloads and an upload
        });
    }

    [Fact]
    public void KernelNode_WithADependencyOfAnotherGraph_IsRefused()
    {
        CudaEmulatorTests.WithFaultsKernel("warp_sums", (function, y) =>
        {
            long n = Length;
            void** arguments = stackalloc void*[] { &y, &n };
            var node = new KernelNodeParams { Function = function, GridX = 1, GridY = 1, GridZ = 1, BlockX = Threads, BlockY = 1, BlockZ = 1, KernelParams = arguments };
            nint a, b, inA, inB;
            Check(cuGraphCreate(&a, 0));
            Check(cuGraphCreate(&b, 0));
            try
            {
                Check(GraphAddKernelNode(&inA, a, null, 0, &node));
                Assert.Equal("CUDA_ERROR_INVALID_VALUE", ErrorName(GraphAddKernelNode(&inB, b, &inA, 1, &node)));
                node.BlockX = 2048; // more threads than a block may have
                Assert.Equal("CUDA_ERROR_INVALID_VALUE", ErrorName(GraphAddKernelNode(&inB, b, null, 0, &node)));
            }
            finally
            {
                cuGraphDestroy(a);
                cuGraphDestroy(b);
            }
        });
    }

    private static float[] Download(ulong y)
    {
        var host = new float[Length];
        fixed (float* p = host)
            Check(cuMemcpyDtoH_v2(p, y, Length * sizeof(float)));
        return host;
    }

    private static void Upload(ulong y, float value)
    {
        var host = Enumerable.Repeat(value, Length).ToArray();
        fixed (float* p = host)
            Check(cuMemcpyHtoD_v2(y, p, Length * sizeof(float)));
    }
}
