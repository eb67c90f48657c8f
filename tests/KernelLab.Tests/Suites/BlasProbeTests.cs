namespace KernelLab.Tests;

/// <summary>
/// tools/blas_probe.py, which makes the PyTorch baseline fair: the OPENBLAS_CORETYPE it picks from /proc/cpuinfo's vendor and
/// flags, and that it keeps a core the user set. Needs only python3 (no torch).
/// </summary>
public sealed class BlasProbeTests : SuiteTestBase
{
    private const string Avx2 = "sse sse2 avx avx2 fma";
    private const string SkylakeX = Avx2 + " avx512f avx512cd avx512bw avx512dq avx512vl";

    [Theory]
    [InlineData("GenuineIntel", SkylakeX + " avx512_vnni avx512_bf16 avx512_fp16", "Cooperlake")] // Sapphire Rapids, model 207
    [InlineData("AuthenticAMD", SkylakeX + " avx512_vnni avx512_bf16", "Cooperlake")] // Zen 4
    [InlineData("GenuineIntel", SkylakeX + " avx512_vnni", "SkylakeX")] // Cascade Lake: no BF16
    [InlineData("GenuineIntel", Avx2 + " avx512f", "Haswell")] // Knights Landing: no BW, DQ or VL
    [InlineData("AuthenticAMD", Avx2, "Zen")]
    [InlineData("HygonGenuine", Avx2, "Zen")]
    [InlineData("GenuineIntel", Avx2, "Haswell")]
    [InlineData("GenuineIntel", "sse sse2 avx", "None")] // OpenBLAS's own choice stands
    public void BestCoreTypeForTheFlags(string vendor, string flags, string expected)
    {
        string cpuinfo = Temp("cpuinfo");
        File.WriteAllText(cpuinfo, $"processor\t: 0\nvendor_id\t: {vendor}\nmodel name\t: test CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: sse\n");
        Assert.Equal(expected, Python($"print(blas_probe.best_coretype(blas_probe.cpu({Quoted(cpuinfo)}))[0])").Stdout.Trim());
    }

    [Fact]
    public void TheUsersCoreTypeIsKept()
    {
        var (stdout, stderr) = Python("os.environ['OPENBLAS_CORETYPE'] = 'Sandybridge'; print(blas_probe.choose_openblas_coretype()); print(os.environ['OPENBLAS_CORETYPE'])");
        Assert.Equal(["set by the user", "Sandybridge"], stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("OPENBLAS_CORETYPE=Sandybridge, set by the user", stderr.Trim());
    }

    [Fact]
    public void UnsetIsSetBeforeTorchIsImported()
    {
        var (stdout, stderr) = Python("os.environ.pop('OPENBLAS_CORETYPE', None); blas_probe.choose_openblas_coretype(); " +
            "print(os.environ.get('OPENBLAS_CORETYPE') == blas_probe.best_coretype(blas_probe.cpu())[0]); " +
            "sys.modules['torch'] = sys; blas_probe.choose_openblas_coretype()", expectedExitCode: 1);
        Assert.Equal("True", stdout.Trim());
        Assert.Equal(1, stderr.Split('\n').Count(l => l.StartsWith("OPENBLAS_CORETYPE=")));
        Assert.Contains("must run before torch is imported", stderr);
    }

    private static (string Stdout, string Stderr) Python(string code, int expectedExitCode = 0)
    {
        string tools = Path.Combine(AppContext.BaseDirectory, "tools");
        var (exit, stdout, stderr) = ExternalTool.Run("python3", ["-c", $"import os, sys; sys.path.insert(0, {Quoted(tools)}); import blas_probe; {code}"], "install Debian's python3");
        Assert.True(exit == expectedExitCode, stderr);
        return (stdout, stderr);
    }

    private static string Quoted(string path) => $"'{path.Replace("\\", "\\\\").Replace("'", "\\'")}'";
}
