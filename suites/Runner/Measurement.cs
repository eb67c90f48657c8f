using System.Diagnostics;
using System.Reflection;
using System.Runtime;
using KernelLab.Backends;
using KernelLab.Models;

namespace KernelLab.Suites;

/// <summary>
/// The one measuring path of <c>kernellab run</c> (a training step) and <c>kernellab ops</c> (an op): at least
/// <see cref="WarmupSteps"/> untimed steps lasting at least <see cref="WarmupSeconds"/>, and where that is more than 0,
/// more until the runtime has compiled no method for <see cref="JitQuietSeconds"/> (at most <see cref="MaxWarmupSeconds"/>
/// in all), so that first-use costs and the runtime's first code of hot methods are not timed; then steps timed one by
/// one with the backend's own timer (<see cref="Backend.CreateTimer"/>) until both <see cref="MinSteps"/> and
/// <see cref="MinSeconds"/> are reached, or <see cref="MaxSteps"/>.
/// </summary>
/// <remarks>
/// The runtime replaces a hot method's first code with optimised code on a background thread, after the method has
/// been called a while; on a 2-core machine whose cores both run the step, that took up to a second of the lstm's timed
/// steps (about 190 methods compiled, 14.5 ms steps that were 10 ms once it was done), so a fixed warm-up of a few
/// steps timed the compiler. The JIT's own count of compiled methods (<see cref="JitInfo.GetCompiledMethodCount"/>)
/// says when that is over.
/// </remarks>
public sealed record Measurement(int WarmupSteps, double WarmupSeconds, int MinSteps, double MinSeconds, int MaxSteps = int.MaxValue)
{
    /// <summary>The clock that the seconds of warm-up and of the timed loop are read from; the step times are the backend timer's.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>How many methods the runtime has compiled so far, on every thread.</summary>
    public Func<long> CompiledMethods { get; init; } = () => JitInfo.GetCompiledMethodCount();

    /// <summary>How long the runtime must have compiled nothing before the warm-up may end.</summary>
    public double JitQuietSeconds { get; init; } = 0.25;

    /// <summary>The longest the warm-up waits for the runtime to go quiet.</summary>
    public double MaxWarmupSeconds { get; init; } = 10;

    /// <summary>
    /// Warms up and times <paramref name="step"/> on <paramref name="backend"/>. <paramref name="progress"/> hears "warm-up"
    /// (at 0) before each warm-up step and "measuring" after each timed one, with the share of the loop done (0 to 1).
    /// </summary>
    public StepTimes Run(Backend backend, Action step, Action<string, double>? progress = null, CancellationToken cancel = default)
    {
        long start = Clock.GetTimestamp(), quietSince = start, compiled = CompiledMethods();
        int warmups = 0;
        bool waitForJit = WarmupSeconds > 0; // a warm-up of steps alone leaves out first-use costs, not the runtime's start
        for (; warmups < WarmupSteps || Seconds(start) < WarmupSeconds
               || waitForJit && Seconds(quietSince) < JitQuietSeconds && Seconds(start) < MaxWarmupSeconds; warmups++)
        {
            cancel.ThrowIfCancellationRequested();
            progress?.Invoke("warm-up", 0);
            step();
            if (CompiledMethods() is var now && now != compiled)
                (compiled, quietSince) = (now, Clock.GetTimestamp());
        }
        backend.Synchronize();

        var timer = backend.CreateTimer();
        var samples = new List<double>();
        start = Clock.GetTimestamp();
        while ((samples.Count < MinSteps || Seconds(start) < MinSeconds) && samples.Count < MaxSteps)
        {
            cancel.ThrowIfCancellationRequested();
            timer.Start();
            step();
            samples.Add(timer.Stop());
            double byCount = (double)samples.Count / MinSteps;
            double byTime = MinSeconds > 0 ? Seconds(start) / MinSeconds : 1;
            progress?.Invoke("measuring", Math.Min(1, Math.Min(byCount, byTime)));
        }
        return new StepTimes(samples) { WarmupSteps = warmups };
    }

    private double Seconds(long start) => Clock.GetElapsedTime(start).TotalSeconds;

    /// <summary>Throws before anything is timed where the numbers would mean nothing: a Debug build, or under a debugger.</summary>
    public static void RefuseDebugBuild() => RefuseDebugBuild(typeof(Measurement).Assembly, Debugger.IsAttached);

    internal static void RefuseDebugBuild(Assembly build, bool debuggerAttached)
    {
        if (build.GetCustomAttributes<DebuggableAttribute>().Any(a => a.IsJITOptimizerDisabled))
            throw new KernelLabException($"this is a Debug build ({build.GetName().Name} has the JIT optimizer off): timings from it mean nothing; build with -c Release");
        if (debuggerAttached)
            throw new KernelLabException("a debugger is attached: timings under it mean nothing; run without one");
    }
}

/// <summary>The times of the timed steps, in milliseconds, and their order statistics.</summary>
public sealed class StepTimes
{
    public StepTimes(IReadOnlyList<double> samplesMs)
    {
        SamplesMs = samplesMs;
        MedianMs = Statistics.Median(samplesMs);
        MinMs = samplesMs.Min();
        MaxMs = samplesMs.Max();
        P10Ms = Statistics.Quantile(samplesMs, 0.1);
        P90Ms = Statistics.Quantile(samplesMs, 0.9);
    }

    /// <summary>The untimed steps run before them.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Every timed step, in the order run.</summary>
    public IReadOnlyList<double> SamplesMs { get; }

    public int Count => SamplesMs.Count;

    public double MedianMs { get; }

    public double MinMs { get; }

    public double MaxMs { get; }

    public double P10Ms { get; }

    public double P90Ms { get; }
}
