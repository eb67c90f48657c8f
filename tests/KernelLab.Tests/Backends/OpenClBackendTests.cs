using KernelLab.Backends;
using KernelLab.Backends.OpenCL;
using KernelLab.Cli;

namespace KernelLab.Tests;

/// <summary>What the OpenCL backend adds to the contract: error names, discovery without an ICD loader, device choice, device info, the profiling timer and <c>kernels check</c>. Skipped where no OpenCL device is found.</summary>
public sealed class OpenClBackendTests
{
    [Fact]
    public void ErrorNamesComeFromClH()
    {
        Assert.Equal("CL_INVALID_KERNEL_ARGS (-52)", OpenClException.ErrorName(-52));
        Assert.Equal("CL_PLATFORM_NOT_FOUND_KHR (-1001)", OpenClException.ErrorName(-1001));
        Assert.Equal("unknown OpenCL error (-12345)", OpenClException.ErrorName(-12345));
    }

    [Fact]
    public void DiscoveryWithoutAnIcdLoaderGivesTheReasonAndNoDevice()
    {
        var missing = OpenClDevices.Discover("libOpenCL-missing.so.1");
        Assert.Empty(missing.Devices);
        Assert.Equal("libOpenCL-missing.so.1 is missing or cannot be loaded (install an ICD loader and a driver, e.g. ocl-icd-libopencl1 and pocl-opencl-icd)", missing.Failure);

        // A library that loads but is no ICD loader: the entry point it lacks.
        var notOpenCl = OpenClDevices.Discover("libm.so.6");
        Assert.Empty(notOpenCl.Devices);
        Assert.Equal("libm.so.6 lacks an entry point: Native symbol not found (Symbol: clGetPlatformIDs)", notOpenCl.Failure);
    }

    [Fact]
    public void DeviceInfoNamesTheDeviceAndItsOpenClCVersion()
    {
        using var backend = TestBackends.CreateOrSkip("opencl");
        Assert.Equal(Precision.Float32, backend.Info.Precision);
        Assert.NotEmpty(backend.Info.Name);
        Assert.True(backend.Info.ComputeUnits > 0 && backend.Info.MemoryBytes > 0);
        Assert.StartsWith("OpenCL C ", backend.Info.Properties["OpenCL C version"]);
        Assert.Contains("driver version", backend.Info.Properties.Keys);
    }

    [Fact]
    public void TimerReadsKernelTimeFromProfilingEvents()
    {
        using var backend = TestBackends.CreateOrSkip("opencl");
        using var a = backend.Allocate(128 * 128);
        using var c = backend.Allocate(128 * 128);
        backend.Fill(a, 0.5);
        var timer = backend.CreateTimer();
        timer.Start();
        backend.Gemm(false, false, 128, 128, 128, a, a, c);
        double ms = timer.Stop();
        Assert.InRange(ms, 1e-6, 10_000);
        timer.Start();
        Assert.Equal(0, timer.Stop()); // no kernel between Start and Stop
    }

    [Fact]
    public void ReleasedObjectsAreNeverPassedToTheDriver()
    {
        var backend = TestBackends.CreateOrSkip("opencl");
        var buffer = backend.Allocate(4);
        buffer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => backend.Fill(buffer, 1));
        backend.Dispose();
        Assert.Throws<ObjectDisposedException>(() => backend.Allocate(4));
        Assert.Throws<ObjectDisposedException>(backend.Synchronize);
    }

    [Fact]
    public void DeviceChoiceThatMatchesNoDeviceFails()
    {
        TestBackends.CreateOrSkip("opencl").Dispose();
        var e = Assert.Throws<KernelLabException>(() => BackendRegistry.Create("opencl", "no such device"));
        Assert.Contains("'no such device' matches no device; devices: 0:0", e.Message);
        using var first = BackendRegistry.Create("opencl", "0:0");
        Assert.Equal("0:0", first.Info.Properties["device"]);
    }

    [Fact]
    public void KernelsCheckBuildsEverySource()
    {
        TestBackends.CreateOrSkip("opencl").Dispose();
        var (code, stdout, stderr) = Run("kernels", "check", "--backend", "opencl");
        Assert.True(code == 0, stderr + stdout);
        foreach (var source in new[] { "convolution.cl", "elementwise.cl", "gemm.cl", "normalization.cl", "optimizers.cl", "sequence.cl" })
            Assert.Matches($@"(?m)^{source.Replace(".", @"\.")}\s+.+\s+OK\s+\d+ ms$", stdout);
    }

    [Fact]
    public void KernelsCheckNeedsABackendThatCompilesKernels()
    {
        var (code, _, stderr) = Run("kernels", "check", "--backend", "reference");
        Assert.Equal(1, code);
        Assert.Equal("error: backend 'reference' compiles no kernel sources", stderr.Trim());
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = KernelLabCli.Run(args, stdout, stderr);
        return (code, stdout.ToString().ReplaceLineEndings("\n"), stderr.ToString());
    }
}
