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
/// The calling thread and <c>threads - 1</c> background workers share the items of one job at a time. Workers spin
/// briefly between jobs (ops come in quick succession) and then sleep. A job's items run serially inside it: a kernel
/// never starts a parallel region of its own, so the machine is never oversubscribed.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private const int SpinsBeforeSleeping = 2000;

    private readonly Thread[] _workers;
    private readonly object _gate = new();
    private ParallelJob? _job;
    private int _items;
    private int _nextItem;
    private int _running;        // workers still inside the current job
    private long _generation;    // bumped once per job
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
        _job = job;
        _items = items;
        _nextItem = 0;
        Volatile.Write(ref _running, _workers.Length);
        lock (_gate)
        {
            _generation++;
            Monitor.PulseAll(_gate);
        }
        Drain(job, 0);
        var spinner = new SpinWait();
        while (Volatile.Read(ref _running) != 0)
            spinner.SpinOnce(sleep1Threshold: -1);
        _job = null;
    }

    private void Drain(ParallelJob job, int worker)
    {
        int item;
        while ((item = Interlocked.Increment(ref _nextItem) - 1) < _items)
            job.Execute(item, worker);
    }

    private void WorkerLoop(int worker)
    {
        long seen = 0;
        while (true)
        {
            // Spin first: the next op usually follows within microseconds.
            for (int spin = 0; spin < SpinsBeforeSleeping && Volatile.Read(ref _generation) == seen && !_stopping; spin++)
                Thread.SpinWait(20);
            lock (_gate)
            {
                while (_generation == seen && !_stopping)
                    Monitor.Wait(_gate);
                seen = _generation;
            }
            if (_stopping)
                return;
            Drain(_job!, worker);
            Interlocked.Decrement(ref _running);
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
