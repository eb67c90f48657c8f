using System.Text.RegularExpressions;
using KernelLab.Backends;
using KernelLab.Backends.Cuda;
using KernelLab.Backends.Cuda.Native;

namespace KernelLab.Tests;

/// <summary>
/// The CUDA kernels without a GPU: every source compiles with NVRTC for the checked architectures, and every kernel the
/// backend launches is declared in the PTX with the parameters the launch passes. Skipped, with the reason, where NVRTC is missing.
/// </summary>
public sealed partial class CudaKernelTests
{
    [Fact]
    public void EverySourceCompiles_ForEveryCheckedArchitecture()
    {
        RequireNvrtc();
        var results = CudaKernels.CheckSources(CudaKernels.CheckedArchitectures);
        Assert.Equal(CudaKernels.SourceNames.Count * CudaKernels.CheckedArchitectures.Count, results.Count);
        Assert.Contains("gemm.cu", CudaKernels.SourceNames);
        var failures = results.Where(r => !r.Succeeded).Select(r => $"{r.Source} for {r.Target}: {r.Log}").ToList();
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void EveryLaunchedKernel_MatchesItsPtxDeclaration()
    {
        RequireNvrtc();
        var ptx = CudaKernels.Ptx(Nvrtc.Load(driverVersion: null), "compute_80");
        var declared = ptx.SelectMany(source => Entries(source.Value).Select(e => (Source: source.Key, e.Name, e.Parameters))).ToList();

        foreach (var kernel in Kernel.All)
        {
            var entry = declared.SingleOrDefault(e => e.Name == kernel.Name);
            Assert.True(entry.Name is not null, $"{kernel}: no kernel '{kernel.Name}' in the PTX (is it extern \"C\" __global__?)");
            Assert.Equal(kernel.Source, entry.Source);
            string[] expected = [.. kernel.Parameters.Select(PtxType)];
            Assert.True(expected.SequenceEqual(entry.Parameters),
                $"{kernel}: the PTX declares ({string.Join(", ", entry.Parameters)}), the launch passes ({string.Join(", ", expected)})");
        }
        // And no kernel is compiled that nothing launches.
        Assert.Empty(declared.Select(e => e.Name).Except(Kernel.All.Select(k => k.Name)));
    }

    [Fact]
    public void CompileError_CarriesNvrtcLog()
    {
        RequireNvrtc();
        var nvrtc = Nvrtc.Load(driverVersion: null);
        var compilation = nvrtc.Compile("broken.cu", "extern \"C\" __global__ void broken(float* y) { y[0] = undeclared_name; }", [], ["--gpu-architecture=compute_80"]);
        Assert.False(compilation.Succeeded);
        Assert.Equal("NVRTC_ERROR_COMPILATION", compilation.ErrorName);
        Assert.Contains("undeclared_name", compilation.Log);
    }

    [Fact]
    public void ShippedPtx_IsTheNewestArchitectureNotAboveTheDevices()
    {
        RequireNvrtc();
        string dir = Path.Combine(Path.GetTempPath(), "kernellab-ptx-" + Guid.NewGuid().ToString("N"));
        try
        {
            var written = CudaKernels.WritePtx(dir, ["compute_70", "compute_80"]);
            Assert.Equal(2 * CudaKernels.SourceNames.Count, written.Count);
            Assert.Equal("compute_80", CudaKernels.ShippedPtx(dir, 90)!.Value.Architecture);
            Assert.Equal("compute_80", CudaKernels.ShippedPtx(dir, 86)!.Value.Architecture);
            var sm75 = CudaKernels.ShippedPtx(dir, 75)!.Value;
            Assert.Equal("compute_70", sm75.Architecture);
            Assert.Equal(CudaKernels.SourceNames, sm75.Ptx.Keys.Order(StringComparer.Ordinal));
            Assert.Contains(".target sm_70", sm75.Ptx["gemm.cu"]);
            Assert.Null(CudaKernels.ShippedPtx(dir, 61));
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    private static string PtxType(KernelParameter p) => p switch
    {
        KernelParameter.Pointer or KernelParameter.Int64 => ".u64",
        KernelParameter.Int32 => ".u32",
        KernelParameter.Float32 => ".f32",
        KernelParameter.Float64 => ".f64",
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    /// <summary>Each <c>.entry name(.param .type name_param_0, ...)</c> of a PTX module.</summary>
    private static IEnumerable<(string Name, string[] Parameters)> Entries(string ptx) =>
        EntryPattern().Matches(ptx).Select(m => (
            m.Groups["name"].Value,
            ParamPattern().Matches(m.Groups["params"].Value).Select(p => p.Groups["type"].Value).ToArray()));

    [GeneratedRegex(@"\.entry\s+(?<name>\w+)\s*\((?<params>[^)]*)\)")]
    private static partial Regex EntryPattern();

    [GeneratedRegex(@"\.param\s+(?<type>\.\w+)\s+\w+")]
    private static partial Regex ParamPattern();

    internal static void RequireNvrtc()
    {
        try
        {
            CudaKernels.DescribeNvrtc();
        }
        catch (KernelLabException e)
        {
            Assert.Skip(e.Message);
        }
    }
}
