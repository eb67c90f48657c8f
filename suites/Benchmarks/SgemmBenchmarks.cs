using BenchmarkDotNet.Attributes;
using KernelLab.Backends;
using KernelLab.Backends.Conformance;

namespace KernelLab.Benchmarks;

/// <summary>One GEMM: C [M, N] = op(A) op(B), with the transposes the layers use (N: as stored, T: transposed).</summary>
public sealed record GemmCase(string Label, int M, int N, int K, bool TransposeA, bool TransposeB)
{
    public double Flop => 2.0 * M * N * K;

    public override string ToString() => $"{Label} {M}x{N}x{K} {(TransposeA ? 'T' : 'N')}{(TransposeB ? 'T' : 'N')}";
}

/// <summary>A GEMM case on one backend.</summary>
public sealed record SgemmRun(string Backend, GemmCase Gemm)
{
    public override string ToString() => $"{Backend}: {Gemm}";
}

/// <summary>
/// SGEMM: square 64 to 1024, and the GEMM shapes of the standard workloads (suites/standard.json, MODELS.md batch sizes),
/// on every available backend. GFLOP/s = Flop / mean time. The float64 scalar reference only runs the shapes up to
/// 256^3 of work: the bigger ones take it seconds per call.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class SgemmBenchmarks
{
    private const double ReferenceFlopLimit = 2.0 * 256 * 256 * 256;

    public static IEnumerable<GemmCase> Cases =>
    [
        new("square", 64, 64, 64, false, false),
        new("square", 128, 128, 128, false, false),
        new("square", 256, 256, 256, false, false),
        new("square", 512, 512, 512, false, false),
        new("square", 1024, 1024, 1024, false, false),
        // mlp (B = 64): fc1 forward, weight gradient, input gradient of fc2
        new("mlp fc1 forward", 64, 128, 784, false, true),
        new("mlp fc1 weight grad", 128, 784, 64, true, false),
        new("mlp fc2 input grad", 64, 128, 64, false, false),
        // cnn (B = 64): conv2 per image as im2col GEMMs, fc1
        new("cnn conv2 forward", 32, 196, 144, false, false),
        new("cnn conv2 data grad", 144, 196, 32, true, false),
        new("cnn conv2 weight grad", 32, 144, 196, false, true),
        new("cnn fc1 forward", 64, 128, 1568, false, true),
        // lstm (B = 32, T = 32, H = 128): input projection of all steps, one recurrent step, head
        new("lstm input projection", 1024, 512, 64, false, true),
        new("lstm recurrent step", 32, 512, 128, false, true),
        new("lstm recurrent grad", 32, 128, 512, false, false),
        new("lstm head", 1024, 256, 128, false, true),
        // transformer (B = 16, T = 64, d = 128, ffn = 512): qkv, mlp_fc, mlp_proj, their weight gradients
        new("transformer qkv", 1024, 384, 128, false, true),
        new("transformer mlp_fc", 1024, 512, 128, false, true),
        new("transformer mlp_proj", 1024, 128, 512, false, true),
        new("transformer mlp_fc weight grad", 512, 128, 1024, true, false),
    ];

    public static IEnumerable<SgemmRun> Runs =>
        from backend in BenchmarkBackends.Available
        from c in Cases
        where backend != BenchmarkBackends.Reference || c.Flop <= ReferenceFlopLimit
        select new SgemmRun(backend, c);

    private Backend _backend = null!;
    private OpCase _gemm = null!;
    private OpBuffers _buffers = null!;

    [ParamsSource(nameof(Runs))]
    public SgemmRun Case { get; set; } = null!;

    /// <summary>The GEMM as <c>kernellab ops</c> times it: the op case's seeded inputs, uploaded, and its call (C written, not accumulated).</summary>
    [GlobalSetup]
    public void Setup()
    {
        _backend = BackendRegistry.Create(Case.Backend);
        var g = Case.Gemm;
        _gemm = OpCases.Gemm(g.M, g.N, g.K, g.TransposeA, g.TransposeB, accumulate: false, alpha: 1);
        _buffers = _gemm.Inputs.Allocate(_backend);
    }

    [Benchmark]
    public void Sgemm()
    {
        _gemm.Run(_backend, _buffers);
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _buffers.Dispose();
        _backend.Dispose();
    }
}
