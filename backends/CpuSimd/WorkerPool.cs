namespace KernelLab.Backends.CpuSimd;

/// <summary>
/// Work that a <see cref="WorkerPool"/> splits into numbered items. A job object is created once per kind of op
/// and its fields are set before each run, so that running a job allocates nothing.
/// </summary>
internal abstract class ParallelJob
{
    /// <summary>Runs item <paramref name="item"/> on worker <paramref name="worker"/> (0 is the calling thread), which owns scratch <paramref name="worker"/>.</summary>
    public abstract void Execute(int item, int worker);
}

/// <summary>
/// The calling thread and <c>threads - 1</c> background workers share the items of one job at a time. Items are
/// claimed one by one, and the caller waits for the items, not for the workers: on a busy machine a worker that is
/// not scheduled in time simply gets no item, and the caller does the work itself. Workers spin briefly between jobs
/// (ops come in quick succession) and then sleep. A job's items run serially inside it: a kernel never starts a
/// parallel region of its own, so the machine is never oversubscribed.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private const int SpinsBeforeSleeping = 1000;

    // The job's state in one word, so that a claim is one compare-and-swap that also checks which job it is for:
    // generation (24 bits) | item count (20 bits) | next item (20 bits).
    private const int ItemBits = 20;
    private const long ItemMask = (1L << ItemBits) - 1;
    public const int MaxItems = (int)ItemMask;

    private readonly Thread[] _workers;
    private readonly object _gate = new();
    private ParallelJob? _job;
    private long _state;
    private int _completed;
    private int _sleepers;
    private Exception? _failure; // the first exception of the current job, rethrown on the calling thread
    private volatile bool _stopping;

    public WorkerPool(int threads)
    {
        Threads = threads;
        _workers = new Thread[threads - 1];
        for (int w = 0; w < _workers.Length; w++)
        {
            int worker = w + 1;
            _workers[w] = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"cpu-simd worker {worker}" };
            _workers[w].Start();
        }
    }

    public int Threads { get; }

    /// <summary>Runs items 0 .. <paramref name="items"/>-1 of <paramref name="job"/> and returns when all are done.</summary>
    public void Run(ParallelJob job, int items)
    {
        if (items <= 0)
            return;
        if (items == 1 || _workers.Length == 0)
        {
            for (int i = 0; i < items; i++)
                job.Execute(i, 0);
            return;
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThan(items, MaxItems);
        _job = job;
        _completed = 0;
        _failure = null;
        long generation = (Volatile.Read(ref _state) >> (2 * ItemBits)) + 1 & 0xFFFFFF;
        Interlocked.Exchange(ref _state, generation << (2 * ItemBits) | (long)items << ItemBits);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_gate)
                Monitor.PulseAll(_gate);
        }
        Drain(generation, 0);
        var spinner = new SpinWait();
        while (Volatile.Read(ref _completed) != items)
            spinner.SpinOnce(sleep1Threshold: -1);
        if (_failure is { } failure)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    /// <summary>Claims and runs items of job <paramref name="generation"/> until none is left.</summary>
    private void Drain(long generation, int worker)
    {
        while (true)
        {
            long state = Volatile.Read(ref _state);
            long next = state & ItemMask, items = (state >> ItemBits) & ItemMask;
            if (state >> (2 * ItemBits) != generation || next >= items)
                return;
            // Read the job before claiming: a successful claim proves the job is still this generation's, because
            // the next job is only set once every item of this one has run.
            var job = _job!;
            if (Interlocked.CompareExchange(ref _state, state + 1, state) != state)
                continue;
            try
            {
                job.Execute((int)next, worker);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            Interlocked.Increment(ref _completed);
        }
    }

    private void WorkerLoop(int worker)
    {
        long seen = 0;
        while (!_stopping)
        {
            long generation = Volatile.Read(ref _state) >> (2 * ItemBits);
            for (int spin = 0; spin < SpinsBeforeSleeping && generation == seen && !_stopping; spin++)
            {
                Thread.SpinWait(30);
                generation = Volatile.Read(ref _state) >> (2 * ItemBits);
            }
            if (generation == seen)
            {
                lock (_gate)
                {
                    Interlocked.Increment(ref _sleepers);
                    while ((generation = Volatile.Read(ref _state) >> (2 * ItemBits)) == seen && !_stopping)
                        Monitor.Wait(_gate);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            seen = generation;
            Drain(generation, worker);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        lock (_gate)
            Monitor.PulseAll(_gate);
        foreach (var t in _workers)
            t.Join();
    }
}
