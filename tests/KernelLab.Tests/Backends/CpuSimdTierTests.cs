using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using KernelLab.Backends.CpuSimd;

namespace KernelLab.Tests;

/// <summary>
/// cpu-simd's tier switch: what KERNELLAB_CPU_SIMD_EMULATE_VECTOR512 takes, the name of each tier, and, in a process of
/// its own (the switch is read once per process), a bad value as one line where the backend is made.
/// </summary>
public sealed class CpuSimdTierTests
{
    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("0", false)]
    [InlineData("1", true)]
    public void EmulationTakesUnsetZeroOrOne(string? value, bool emulate) => Assert.Equal((emulate, null), SimdTier.ParseEmulate(value));

    [Theory]
    [InlineData("2")]
    [InlineData("yes")]
    [InlineData("true")]
    [InlineData(" 1")]
    [InlineData("01")]
    public void AnyOtherValueIsOneLineNamingTheVariable(string value)
    {
        var (emulate, error) = SimdTier.ParseEmulate(value);
        Assert.False(emulate);
        Assert.Equal($"KERNELLAB_CPU_SIMD_EMULATE_VECTOR512='{value}': expected 1 (run cpu-simd's Vector512 kernels, emulated where the CPU has no AVX-512), or 0 or unset (not)", error);
    }

    [Theory]
    [InlineData(true, false, true, true, true, "avx512f+fma")]
    [InlineData(true, true, true, true, true, "avx512f+fma")]
    [InlineData(false, true, true, true, true, "vector512 emulated (KERNELLAB_CPU_SIMD_EMULATE_VECTOR512=1)")]
    [InlineData(false, true, false, false, false, "vector512 emulated (KERNELLAB_CPU_SIMD_EMULATE_VECTOR512=1)")]
    [InlineData(false, false, true, true, true, "avx2+fma")]
    [InlineData(false, false, true, false, true, "avx2")]
    [InlineData(false, false, false, false, true, "vector128")]
    [InlineData(false, false, false, false, false, "scalar")]
    public void EachTierHasItsName(bool vector512, bool emulate, bool vector256, bool fma, bool vector128, string name) =>
        Assert.Equal(name, SimdTier.Describe(vector512, emulate, vector256, fma, vector128));

    /// <summary>This process's tier, from its CPU and variables (each of .ci/run's tiers), and the device's properties that say it.</summary>
    [Fact]
    public void TheDeviceSaysWhichTierRuns()
    {
        bool emulate = Environment.GetEnvironmentVariable(CpuSimdBackend.EmulateVector512Variable) == "1";
        string tier = Tier(emulate);
        Assert.Equal(tier, CpuSimdBackend.InstructionTier);
        using var backend = new CpuSimdBackend(1);
        Assert.Equal($"host CPU ({tier}, 1 threads)", backend.Info.Name);
        Assert.Equal(tier, backend.Info.Properties["instructions"]);
        Assert.Equal(Vector512.IsHardwareAccelerated ? "True" : emulate ? "emulated" : "False", backend.Info.Properties["vector512"]);
        Assert.Equal(Vector256.IsHardwareAccelerated.ToString(), backend.Info.Properties["vector256"]);
    }

    [Theory]
    [InlineData("2", "unavailable  KERNELLAB_CPU_SIMD_EMULATE_VECTOR512='2': expected 1")]
    [InlineData("on", "unavailable  KERNELLAB_CPU_SIMD_EMULATE_VECTOR512='on': expected 1")]
    [InlineData("1", "available    host CPU ({emulated}, ")]
    [InlineData("0", "available    host CPU ({plain}, ")]
    public async Task KernellabBackendsSaysWhatTheVariableGives(string value, string expected)
    {
        var (exitCode, stdout, stderr) = await KernellabProcess.RunAsync(["backends"], new Dictionary<string, string> { [CpuSimdBackend.EmulateVector512Variable] = value });
        Assert.True(exitCode == 0, stderr);
        string line = stdout.Split('\n').Single(l => l.StartsWith("cpu-simd ", StringComparison.Ordinal));
        Assert.Contains(expected.Replace("{emulated}", Tier(emulate: true), StringComparison.Ordinal).Replace("{plain}", Tier(emulate: false), StringComparison.Ordinal), line);
        Assert.DoesNotContain("TypeInitialization", line);
    }

    /// <summary>The tier a process on this CPU, with this process's DOTNET_ variables, runs.</summary>
    private static string Tier(bool emulate) =>
        SimdTier.Describe(Vector512.IsHardwareAccelerated, emulate, Vector256.IsHardwareAccelerated, Fma.IsSupported, Vector128.IsHardwareAccelerated);
}
