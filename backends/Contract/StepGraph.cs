namespace KernelLab.Backends;

/// <summary>
/// A training step recorded once and replayed, as tinygrad's TinyJit and PyTorch's CUDA graphs do: every <see cref="Run"/>
/// queues the same ops in the same order on the same shapes, and only their scalar arguments (the dropout step, the
/// optimizer's step-dependent factors, the learning rate) and buffers may change from one run to the next. A backend that
/// queues work on a device overrides it to launch the whole step at once (cuda: one CUDA graph launch); this default runs
/// the ops as they come. Inside a step, ops may not copy between host and device, synchronize or allocate; where one does,
/// the backend runs that step op by op, so a step is always correct and at worst not replayed.
/// </summary>
public class StepGraph : IDisposable
{
    /// <summary>Runs the ops that <paramref name="step"/> queues with <paramref name="state"/> (a static lambda and its state: no allocation per step).</summary>
    public virtual void Run<TState>(Action<TState> step, TState state) => step(state);

    public virtual void Dispose()
    {
    }
}
