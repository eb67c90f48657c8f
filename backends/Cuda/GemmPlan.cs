namespace KernelLab.Backends.Cuda;

/// <summary>
/// How the cuda backend runs one GEMM of c [m, n] over an inner dimension k on a device of <c>multiprocessors</c> SMs:
/// the tile kernel of gemm.cu (its square tile of c and step of k), and how many slices of k run as separate blocks
/// (<see cref="Splits"/>, each <see cref="SplitK"/> long but the last), each slice's partial product going to scratch
/// [Splits, m, n] for gemm_split_sum to add in a fixed order. A pure function of the shape and the SM count, so a device
/// gives the same bits every run. A struct: GemmCore makes one per call, and a step must not allocate.
/// </summary>
internal readonly record struct GemmPlan(KernelSignature TileKernel, int Tile, int TileK, int M, int N, int Splits, int SplitK)
{
    /// <summary>
    /// Each slice of k at least this long: its block does 2 * tile^2 * 256 FLOP for the 2 * tile^2 floats its partial tile
    /// costs on the way to scratch and back, 64 FLOP per byte, well above what an H200 does per byte of memory (about 14).
    /// </summary>
    public const int MinSplitK = 128;

    /// <summary>Blocks per SM that the split aims at: two blocks of 8 warps each, so one's barriers hide behind the other's FMAs.</summary>
    public const int BlocksPerMultiprocessor = 2;

    /// <summary>Every gemm.cu tile kernel's block: 16 x 16 threads.</summary>
    public const int Threads = 256;

    /// <summary>
    /// gemm_128 where its tiles, with k split as far as <see cref="MinSplitK"/> allows, give every SM a block: its 8 x 8
    /// outputs per thread keep the FMA pipes busy where gemm_64's 4 x 4 wait on shared memory. Otherwise gemm_64, whose
    /// tiles are four times as many, split the same way (or not at all, where k is short: a small GEMM that cannot fill
    /// the device is not made slower by a second launch). Splits aim at <see cref="BlocksPerMultiprocessor"/> blocks per SM.
    /// </summary>
    public static GemmPlan For(int m, int n, int k, int multiprocessors)
    {
        var large = Make(Kernel.Gemm128, 128, 8, m, n, k, multiprocessors);
        return large.Blocks >= multiprocessors ? large : Make(Kernel.Gemm64, 64, 16, m, n, k, multiprocessors);
    }

    private static GemmPlan Make(KernelSignature kernel, int tile, int tileK, int m, int n, int k, int multiprocessors)
    {
        long tiles = (long)Tiles(m, tile) * Tiles(n, tile);
        long wanted = tiles == 0 || tiles >= multiprocessors ? 1 : Math.Min(Ceiling((long)BlocksPerMultiprocessor * multiprocessors, tiles), k / MinSplitK);
        if (wanted <= 1)
            return new GemmPlan(kernel, tile, tileK, m, n, 1, k);
        // Slices of whole k steps; rounding up may leave fewer slices than wanted, and the last one shorter.
        int splitK = (int)Ceiling(Ceiling(k, wanted), tileK) * tileK;
        return new GemmPlan(kernel, tile, tileK, m, n, (int)Ceiling(k, splitK), splitK);
    }

    /// <summary>Blocks of the tile kernel: (ceil(n / tile) * splits, ceil(m / tile)), as gemm.cu reads them.</summary>
    public (long X, long Y) Grid => ((long)Tiles(N, Tile) * Splits, Tiles(M, Tile));

    public long Blocks => Grid.X * Grid.Y;

    /// <summary>The partial products' scratch, [Splits, m, n]; none without a split.</summary>
    public long ScratchLength => Splits == 1 ? 0 : (long)Splits * M * N;

    private static int Tiles(int length, int tile) => (length + tile - 1) / tile;

    private static long Ceiling(long a, long b) => (a + b - 1) / b;
}
