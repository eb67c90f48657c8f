using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

/// <summary>
/// float32 on the host CPU: element-wise ops as Vector512/Vector256/Vector128 operator structs with a scalar fallback, a
/// packed and cache-blocked SGEMM with Vector512 and AVX2+FMA micro-kernels, convolution as im2col + GEMM, fused LSTM
/// cell, LayerNorm, attention and optimizer kernels, and a pool of <see cref="Threads"/> threads (the caller and its
/// workers). Scratch memory is planned once and reused, so a steady-state training step allocates nothing.
/// Like a device queue, one backend serves one calling thread at a time. The ops are in the other CpuSimdBackend.*.cs files.
/// </summary>
public sealed unsafe partial class CpuSimdBackend : Backend
{
    /// <summary>The environment variable that sets the thread count (default: every core).</summary>
    public const string ThreadsVariable = "KERNELLAB_THREADS";

    /// <summary>The environment variable that, set to 1, runs the Vector512 kernels on a CPU without AVX-512 (emulated, for tests).</summary>
    public const string EmulateVector512Variable = SimdTier.EmulateVariable;

    private readonly WorkerPool _pool;
    private readonly WorkerScratch[] _scratch; // one per thread of the pool
    private bool _disposed;

    /// <param name="threads">Threads to run on; null reads <see cref="ThreadsVariable"/>, else every core.</param>
    public CpuSimdBackend(int? threads = null)
    {
        SimdTier.ThrowIfInvalid();
        int count = threads ?? ThreadsFromEnvironment();
        if (count < 1)
            throw new KernelLabException($"cpu-simd needs at least one thread, {count} asked for");
        _pool = new WorkerPool(count);
        _scratch = Enumerable.Range(0, count).Select(_ => new WorkerScratch()).ToArray();
        _gemmJob = new GemmJob(this);
        _convJob = new ConvolutionJob(this);
        _attentionJob = new AttentionJob(this);
        Info = new DeviceInfo(
            Name: $"host CPU ({InstructionTier}, {count} threads)",
            Vendor: "KernelLab",
            Kind: "cpu",
            ComputeUnits: count,
            MemoryBytes: GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            Precision: Precision.Float32,
            Properties: new Dictionary<string, string>
            {
                ["threads"] = count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["threads_source"] = threads is not null ? "constructor" : Environment.GetEnvironmentVariable(ThreadsVariable) is not null ? ThreadsVariable : "processor count",
                ["instructions"] = InstructionTier,
                ["vector512"] = SimdTier.Vector512State,
                ["vector256"] = Vector256.IsHardwareAccelerated.ToString(),
                ["vector128"] = Vector128.IsHardwareAccelerated.ToString(),
                ["fma"] = Fma.IsSupported.ToString(),
            });
    }

    /// <summary>
    /// The registry's entry. Always available: every kernel has Vector256, Vector128 and scalar fallbacks for CPUs without
    /// AVX-512 or AVX2.
    /// </summary>
    public static BackendEntry Entry { get; } = new(
        "cpu-simd", "Vector512/Vector256/Vector128 with FMA, packed SGEMM, multi-threaded (KERNELLAB_THREADS), float32",
        Probe: () => Availability.Yes, Devices: HostCpu.Devices, Create: () => new CpuSimdBackend())
    {
        CreateOnThreads = threads => new CpuSimdBackend(threads),
        Reproducibility = "the same bits every run at the same thread count; another thread count splits sums differently (agrees within 1e-4, not bit for bit)",
    };

    public override string Name => Entry.Name;

    public override DeviceInfo Info { get; }

    public int Threads => _pool.Threads;

    /// <summary>
    /// The widest code path this process runs: avx512f+fma, vector512 emulated (<see cref="EmulateVector512Variable"/>=1),
    /// avx2+fma, avx2, vector128 (SSE), or scalar.
    /// </summary>
    public static string InstructionTier => SimdTier.Name;

    /// <summary>The thread count that <see cref="ThreadsVariable"/> asks for, or every core when it is not set.</summary>
    public static int ThreadsFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(ThreadsVariable);
        if (string.IsNullOrWhiteSpace(text))
            return Environment.ProcessorCount;
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1)
            throw new KernelLabException($"{ThreadsVariable}='{text}': expected a whole number of threads, at least 1");
        return n;
    }

    public override void Synchronize()
    {
    }

    public override IDeviceTimer CreateTimer() => new HostTimer(this);

    public override void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _pool.Dispose();
        foreach (var s in _scratch)
            s.Dispose();
    }

    // ---------------------------------------------------------------- memory

    protected override DeviceBuffer AllocateCore(long length) => new HostBuffer(this, length);

    protected override DeviceIndexBuffer AllocateIndicesCore(long length) => new HostIndexBuffer(this, length);

    protected override void CopyInCore(DeviceView destination, ReadOnlySpan<float> source) => source.CopyTo(Span(destination));

    protected override void CopyInCore(DeviceIndexBuffer destination, ReadOnlySpan<int> source) => source.CopyTo(((HostIndexBuffer)destination).Data);

    protected override void CopyOutCore(DeviceView source, Span<float> destination) => Span(source).CopyTo(destination);

    private static float* Ptr(DeviceView v) => ((HostBuffer)v.Buffer).Pointer + v.Offset;

    private static Span<float> Span(DeviceView v) => new(Ptr(v), checked((int)v.Length));

    private static int* Ptr(DeviceIndexBuffer b) => ((HostIndexBuffer)b).Pointer;

    /// <summary>Pinned (so kernels take pointers without fixing it), on the pinned object heap.</summary>
    private sealed class HostBuffer : DeviceBuffer
    {
        private readonly float[] _data;

        public HostBuffer(Backend owner, long length)
            : base(owner, length)
        {
            _data = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
            Pointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
        }

        public float* Pointer { get; }

        public override void Dispose()
        {
        }
    }

    private sealed class HostIndexBuffer : DeviceIndexBuffer
    {
        public HostIndexBuffer(Backend owner, long length)
            : base(owner, length)
        {
            Data = GC.AllocateUninitializedArray<int>(checked((int)length), pinned: true);
            Pointer = (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Data));
        }

        public int[] Data { get; }

        public int* Pointer { get; }

        public override void Dispose()
        {
        }
    }

    // ---------------------------------------------------------------- GEMM

    // Below this many multiply-adds a GEMM runs on the calling thread alone: waking the workers costs more.
    private const long ParallelGemmWork = 1 << 16;

    private readonly GemmJob _gemmJob;

    protected override void GemmCore(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, double alpha, bool accumulate)
    {
        int lda = transposeA ? m : k, ldb = transposeB ? k : n;
        Gemm(transposeA, transposeB, m, n, k, Ptr(a), lda, Ptr(b), ldb, Ptr(c), n, (float)alpha, accumulate);
    }

    /// <summary>
    /// A GEMM over every thread: C is cut into a grid of blocks, one per thread (whole micro-tiles, <see cref="GemmSplit"/>),
    /// and each thread packs its own panels. Small products stay on the calling thread. Each element of C is summed by
    /// one thread over all of k, so the bits do not depend on the split.
    /// </summary>
    private void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, float alpha, bool accumulate)
    {
        var job = _gemmJob;
        job.Set(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, alpha, accumulate);
        int threads = (long)m * n * k < ParallelGemmWork ? 1 : Threads;
        var (rowParts, columnParts) = GemmSplit(m, n, threads, Sgemm.MR, Sgemm.NR);
        job.Split(rowParts, columnParts);
        _pool.Run(job, job.Items);
    }

    /// <summary>
    /// How C [m, n] is cut for <paramref name="threads"/>: p blocks of rows by q of columns, each at least one
    /// <paramref name="mr"/> x <paramref name="nr"/> micro-tile. As many threads as the tiles allow get a block; among those
    /// grids, the one whose threads pack the least: a block packs its m/p rows of op(A) and its n/q columns of op(B), so
    /// two threads cut the larger dimension (ties: the columns), and 64 threads cut a square C 8 x 8 rather than 64 x 1,
    /// where each would pack all of op(B).
    /// </summary>
    internal static (int RowParts, int ColumnParts) GemmSplit(int m, int n, int threads, int mr, int nr)
    {
        int rowTiles = (m + mr - 1) / mr, columnTiles = (n + nr - 1) / nr;
        var best = (RowParts: 1, ColumnParts: 1);
        double bestPacked = double.MaxValue;
        for (int p = 1; p <= Math.Min(threads, rowTiles); p++)
        {
            int q = Math.Min(threads / p, columnTiles);
            double packed = (double)m / p + (double)n / q;
            int used = p * q, bestUsed = best.RowParts * best.ColumnParts;
            if (used > bestUsed || used == bestUsed && packed < bestPacked)
                (best, bestPacked) = ((p, q), packed);
        }
        return best;
    }

    private sealed class GemmJob(CpuSimdBackend backend) : ParallelJob
    {
        private bool _ta, _tb, _accumulate;
        private int _m, _n, _k, _lda, _ldb, _ldc, _rowParts, _columnParts;
        private float* _a, _b, _c;
        private float _alpha;

        public int Items => _rowParts * _columnParts;

        public void Set(bool ta, bool tb, int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, float alpha, bool accumulate)
        {
            (_ta, _tb, _m, _n, _k, _lda, _ldb, _ldc, _alpha, _accumulate) = (ta, tb, m, n, k, lda, ldb, ldc, alpha, accumulate);
            _a = a;
            _b = b;
            _c = c;
        }

        public void Split(int rowParts, int columnParts) => (_rowParts, _columnParts) = (Math.Max(rowParts, 1), Math.Max(columnParts, 1));

        public override void Execute(int item, int worker)
        {
            var (i0, i1) = Part(_m, Sgemm.MR, _rowParts, item / _columnParts);
            var (j0, j1) = Part(_n, Sgemm.NR, _columnParts, item % _columnParts);
            if (i1 <= i0 || j1 <= j0)
                return;
            float* a = _ta ? _a + i0 : _a + (long)i0 * _lda;
            float* b = _tb ? _b + (long)j0 * _ldb : _b + j0;
            Sgemm.Multiply(_ta, _tb, i1 - i0, j1 - j0, _k, a, _lda, b, _ldb, _c + (long)i0 * _ldc + j0, _ldc, _alpha, _accumulate, backend._scratch[worker]);
        }
    }

    /// <summary>Part <paramref name="index"/> of <paramref name="parts"/> of [0, length), cut at multiples of <paramref name="tile"/>.</summary>
    private static (int Start, int End) Part(int length, int tile, int parts, int index)
    {
        int tiles = (length + tile - 1) / tile;
        int start = (int)Math.Min((long)tiles * index / parts * tile, length);
        int end = (int)Math.Min((long)tiles * (index + 1) / parts * tile, length);
        return (start, end);
    }
}
