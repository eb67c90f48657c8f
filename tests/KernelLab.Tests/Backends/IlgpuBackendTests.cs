using ILGPU;
using ILGPU.Runtime;
using KernelLab.Backends;
using KernelLab.Backends.Ilgpu;

namespace KernelLab.Tests;

/// <summary>Kernels the ILGPU tests launch through the backend's own launch path (public: ILGPU's generated code calls them).</summary>
public static class IlgpuTestKernels
{
    /// <summary>Allocates a managed array, which no ILGPU accelerator can compile.</summary>
    public static void AllocatesAnArray(Index1D i, ArrayView<float> y)
    {
        var scratch = new float[i + 1];
        y[i] = scratch.Length;
    }

    public static void WritesOne(ArrayView<float> y) => y[Grid.GlobalIndex.X] = 1;
}

/// <summary>What the ilgpu backend adds to the contract's tests: its devices, their choice, its timer, and failures that name the kernel.</summary>
public sealed class IlgpuBackendTests
{
    private static IlgpuBackend CreateOrSkip() => (IlgpuBackend)TestBackends.CreateOrSkip(IlgpuBackend.Entry.Name);

    [Fact]
    public void Devices_ListTheCpuAcceleratorAndSayWhyOthersAreUnavailable()
    {
        var devices = IlgpuDevices.All;
        var cpu = Assert.Single(devices, d => d.Id == "cpu");
        Assert.Null(cpu.UnavailableReason);
        Assert.All(devices.Where(d => d.UnavailableReason is not null), d => Assert.False(string.IsNullOrWhiteSpace(d.UnavailableReason)));
        Assert.Equal(devices.Count, devices.Select(d => d.Id).Distinct().Count());
        Assert.Contains(devices, d => d.Id.StartsWith("cuda", StringComparison.Ordinal));
    }

    /// <summary>PoCL 3.1 (CI's OpenCL device) has no generic address space, which ILGPU's OpenCL accelerator needs.</summary>
    [Fact]
    public void OpenClDeviceWithoutGenericAddressSpace_IsListedWithThatReason()
    {
        var pocl = IlgpuDevices.All.Where(d => d.Id.StartsWith("opencl", StringComparison.Ordinal) && d.UnavailableReason is not null).ToList();
        if (pocl.Count == 0)
            Assert.Skip("no OpenCL device that ILGPU cannot use on this machine");
        Assert.All(pocl, d => Assert.Contains("generic address space", d.UnavailableReason));
        var e = Assert.Throws<KernelLabException>(() => new IlgpuBackend(pocl[0].Id));
        Assert.Contains($"ilgpu device {pocl[0].Id}", e.Message);
        Assert.Contains("is unavailable: ", e.Message);
    }

    [Fact]
    public void Device_ChosenById_ByName_AndByTheEnvironment()
    {
        CreateOrSkip().Dispose();
        using (var byId = BackendRegistry.Create("ilgpu", "cpu"))
            Assert.Equal("cpu", byId.Info.Properties["device"]);
        using (var byName = new IlgpuBackend("cpu accel"))
            Assert.Equal("cpu", byName.Info.Properties["device"]);
        var unknown = Assert.Throws<KernelLabException>(() => new IlgpuBackend("tpu:7"));
        Assert.Contains("ilgpu device 'tpu:7' not found: expected one of ", unknown.Message);
        Assert.Contains("cpu (ILGPU CPU accelerator", unknown.Message);

        string? saved = Environment.GetEnvironmentVariable(IlgpuDevices.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(IlgpuDevices.EnvironmentVariable, "tpu:7");
            Assert.Contains("'tpu:7' not found", Assert.Throws<KernelLabException>(() => new IlgpuBackend()).Message);
            Environment.SetEnvironmentVariable(IlgpuDevices.EnvironmentVariable, "cpu");
            using var fromEnvironment = new IlgpuBackend();
            Assert.Equal("cpu", fromEnvironment.Info.Properties["device"]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(IlgpuDevices.EnvironmentVariable, saved);
        }
    }

    [Fact]
    public void KernelThatFailsToCompile_NamesTheKernelAndIlgpusMessage()
    {
        using var backend = CreateOrSkip();
        using var y = backend.Allocate(4);
        var e = Assert.Throws<KernelLabException>(() => backend.Launch(nameof(IlgpuTestKernels.AllocatesAnArray),
            static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(IlgpuTestKernels.AllocatesAnArray),
            k => k(4, backend.View(y))));
        Assert.StartsWith($"ILGPU kernel {nameof(IlgpuTestKernels.AllocatesAnArray)} failed to compile for {backend.Info.Name}: ", e.Message);
        Assert.NotNull(e.InnerException);
        Assert.Contains(e.InnerException.Message, e.Message);
    }

    [Fact]
    public void KernelThatFailsToLaunch_NamesTheKernelAndIlgpusMessage()
    {
        using var backend = CreateOrSkip();
        using var y = backend.Allocate(4);
        // Dynamic shared memory asked of a kernel that declares none: ILGPU refuses the launch.
        var config = new KernelConfig(new Index1D(1), new Index1D(4), SharedMemoryConfig.RequestDynamic<float>(4));
        var e = Assert.Throws<KernelLabException>(() => backend.Launch(nameof(IlgpuTestKernels.WritesOne),
            static a => a.LoadStreamKernel<ArrayView<float>>(IlgpuTestKernels.WritesOne),
            k => k(config, backend.View(y))));
        Assert.StartsWith($"ILGPU kernel {nameof(IlgpuTestKernels.WritesOne)} failed on {backend.Info.Name}: ", e.Message);
        Assert.Contains(e.InnerException!.Message, e.Message);
    }

    [Fact]
    public void Timer_ReadsTheStreamsProfilingMarkers()
    {
        using var backend = CreateOrSkip();
        Assert.Equal("ILGPU profiling markers", backend.Info.Properties["timer"]);
        using var y = backend.Allocate(1 << 16);
        var timer = backend.CreateTimer();
        var wall = System.Diagnostics.Stopwatch.StartNew();
        timer.Start();
        for (int i = 0; i < 5; i++)
            backend.Fill(y, i);
        double ms = timer.Stop();
        Assert.InRange(ms, double.Epsilon, wall.Elapsed.TotalMilliseconds);
        Assert.Throws<InvalidOperationException>(() => timer.Stop());
    }

    [Fact]
    public void Disposed_ThrowsObjectDisposed()
    {
        var backend = CreateOrSkip();
        var y = backend.Allocate(3);
        backend.Dispose();
        Assert.Throws<ObjectDisposedException>(() => backend.Fill(y, 1));
        backend.Dispose(); // twice is fine
    }
}
