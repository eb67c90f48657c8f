namespace KernelLab.Backends.CpuSimd;

/// <summary>The body of a parallel loop: runs indices [start, end) of it. A struct, so the loop allocates nothing.</summary>
internal interface IRangeBody
{
    void Run(long start, long end);
}

/// <summary>A loop over [0, Length) cut into <see cref="Chunks"/> contiguous chunks, one per work item.</summary>
internal sealed class RangeJob<TBody> : ParallelJob
    where TBody : struct, IRangeBody
{
    public TBody Body;
    public long Length;
    public int Chunks;

    public override void Execute(int item, int worker) => Body.Run(Length * item / Chunks, Length * (item + 1) / Chunks);
}

public sealed partial class CpuSimdBackend
{
    // One RangeJob per body type, made on first use (RangeJobSlot gives each type its index).
    private readonly ParallelJob?[] _rangeJobs = new ParallelJob?[RangeJobSlots.Capacity];

    /// <summary>
    /// Runs <paramref name="body"/> over [0, <paramref name="length"/>) on every thread, in chunks of at least
    /// <paramref name="grain"/> indices; a loop shorter than two grains runs on the calling thread.
    /// </summary>
    private void ParallelFor<TBody>(TBody body, long length, long grain)
        where TBody : struct, IRangeBody
    {
        long chunks = Math.Min(length / Math.Max(grain, 1), 4L * Threads);
        if (chunks < 2 || Threads == 1)
        {
            body.Run(0, length);
            return;
        }
        var job = (RangeJob<TBody>)(_rangeJobs[RangeJobSlots.Of<TBody>.Index] ??= new RangeJob<TBody>());
        job.Body = body;
        job.Length = length;
        job.Chunks = (int)chunks;
        _pool.Run(job, (int)chunks);
    }

    private static class RangeJobSlots
    {
        public const int Capacity = 64;
        private static int s_next;

        public static class Of<TBody>
        {
            public static readonly int Index = Interlocked.Increment(ref s_next) - 1 is var i && i < Capacity
                ? i
                : throw new InvalidOperationException($"more than {Capacity} kinds of parallel loop");
        }
    }
}
