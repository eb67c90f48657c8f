using System.Runtime.InteropServices;
using KernelLab.Backends;
using KernelLab.Backends.Cuda;
using KernelLab.Cli;

namespace KernelLab.Tests;

/// <summary>
/// Discovery never throws, and a machine that cannot run CUDA says why in one line: in the registry, from the backend's
/// constructor and from the command line. On a machine with a GPU the unavailable paths are skipped.
/// </summary>
public sealed class CudaAvailabilityTests
{
    private static bool HasDriver => NativeLibrary.TryLoad("libcuda.so.1", out _);

    [Fact]
    public void Probe_NeverThrows_AndNamesTheMissingDriver()
    {
        var availability = BackendRegistry.Find("cuda").Probe();
        if (availability.IsAvailable)
            Assert.Skip("cuda is available on this machine");
        Assert.False(string.IsNullOrWhiteSpace(availability.Reason));
        Assert.DoesNotContain('\n', availability.Reason);
        if (!HasDriver)
            Assert.Equal("libcuda.so.1 not found (no NVIDIA driver on this machine)", availability.Reason);
    }

    [Fact]
    public void Constructor_ThrowsUnavailable_WithTheProbesReason()
    {
        string? reason = CudaBackend.UnavailableReason();
        if (reason is null)
            Assert.Skip("cuda is available on this machine");
        var e = Assert.Throws<BackendUnavailableException>(() => new CudaBackend());
        Assert.Equal(reason, e.Reason);
        Assert.Equal($"backend 'cuda' is unavailable: {reason}", e.Message);
    }

    [Fact]
    public void Grad_OnUnavailableCuda_ExitsNonZero_WithOneLine()
    {
        string? reason = CudaBackend.UnavailableReason();
        if (reason is null)
            Assert.Skip("cuda is available on this machine");
        string dir = Path.Combine(Path.GetTempPath(), "kernellab-cuda-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string output = Path.Combine(dir, "G.safetensors");
            var (code, stdout, stderr) = Run("grad", "--config", CliFiles.Golden("mlp_a.config.json"), "--params", CliFiles.Golden("mlp_a.params.safetensors"),
                "--batch", CliFiles.Golden("mlp_a.batch.safetensors"), "--backend", "cuda", "--out", output);
            Assert.Equal(1, code);
            Assert.Equal("", stdout);
            Assert.Equal($"error: backend 'cuda' is unavailable: {reason}{Environment.NewLine}", stderr);
            Assert.Empty(Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void KernelsCheck_CompilesEverySource()
    {
        CudaKernelTests.RequireNvrtc();
        var (code, stdout, stderr) = Run("kernels", "check", "--backend", "cuda");
        Assert.True(code == 0, stderr);
        string[] lines = stdout.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        foreach (string source in CudaKernels.SourceNames)
            foreach (string architecture in CudaKernels.CheckedArchitectures)
                Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^{System.Text.RegularExpressions.Regex.Escape(source)}\s+{architecture}\s+OK\s+\d+ ms$"));
        int compilations = CudaKernels.SourceNames.Count * CudaKernels.CheckedArchitectures.Count;
        Assert.Equal($"{compilations} of {compilations} kernel builds succeeded", lines[^1]);
    }

    [Fact]
    public void KernelsCheck_OtherBackend_IsOneLineError()
    {
        var (code, _, stderr) = Run("kernels", "check", "--backend", "reference");
        Assert.Equal(1, code);
        Assert.Equal($"error: backend 'reference' compiles no kernel sources{Environment.NewLine}", stderr);
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = KernelLabCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
