using System.Diagnostics;
using System.Reflection;
using System.Reflection.Emit;
using KernelLab.Backends;
using KernelLab.Backends.Reference;
using KernelLab.Models;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>
/// The one measuring path of run and ops (<see cref="Measurement"/>), on a fake clock that each step moves by 0.1 s and a
/// backend whose timer reads the step times 1, 2, 3, ... ms: which steps warm up, which are timed, where the loop stops.
/// The runtime's count of compiled methods is faked too: still, except where a test has it compile during the warm-up.
/// </summary>
public sealed class MeasurementTests
{
    private const long StepTicks = 100; // of FakeClock's 1000 per second: 0.1 s per step

    [Fact]
    public void WarmupStepsRunUntimedBeforeTheTimedSteps()
    {
        var (times, steps, warmups) = Measure(new Measurement(WarmupSteps: 3, WarmupSeconds: 0, MinSteps: 5, MinSeconds: 0));
        Assert.Equal((8, 3), (steps, warmups));
        Assert.Equal([1, 2, 3, 4, 5], times.SamplesMs); // only the 5 timed steps reached the backend's timer
    }

    [Fact]
    public void WarmupLastsItsSecondsPastItsSteps()
    {
        var (_, _, warmups) = Measure(new Measurement(WarmupSteps: 1, WarmupSeconds: 1.0, MinSteps: 1, MinSeconds: 0));
        Assert.Equal(10, warmups);
    }

    [Fact]
    public void WarmupGoesOnUntilTheJitHasBeenQuietForItsSeconds()
    {
        // Methods are compiled during warm-up steps 1 to 4 (the 4th ends at 0.4 s): quiet from 0.4 s, 0.25 s later is 0.65 s,
        // so steps 5, 6 and 7 warm up too, though the suite asked for 2 steps and 0.1 s.
        var (times, steps, warmups) = Measure(new Measurement(WarmupSteps: 2, WarmupSeconds: 0.1, MinSteps: 3, MinSeconds: 0) { JitQuietSeconds = 0.25 },
            compiledDuringSteps: 4);
        Assert.Equal((7, 7, 10), (warmups, times.WarmupSteps, steps));
    }

    [Fact]
    public void WarmupWaitsForTheJitAtMostItsLongest()
    {
        var (times, _, _) = Measure(new Measurement(WarmupSteps: 1, WarmupSeconds: 0.1, MinSteps: 1, MinSeconds: 0) { JitQuietSeconds = 0.25, MaxWarmupSeconds = 1 },
            compiledDuringSteps: int.MaxValue);
        Assert.Equal(10, times.WarmupSteps);
    }

    [Fact]
    public void AWarmupOfStepsAloneWaitsForNoJit()
    {
        var (times, _, _) = Measure(new Measurement(WarmupSteps: 2, WarmupSeconds: 0, MinSteps: 2, MinSeconds: 0) { JitQuietSeconds = 0.25 },
            compiledDuringSteps: int.MaxValue);
        Assert.Equal((2, 2), (times.WarmupSteps, times.Count));
    }

    [Fact]
    public void TheRuntimesCountOfCompiledMethodsIsRead()
    {
        var measurement = new Measurement(WarmupSteps: 1, WarmupSeconds: 0, MinSteps: 1, MinSeconds: 0);
        long before = measurement.CompiledMethods();
        Assert.True(before > 0, $"compiled methods: {before}");
        Func<int, int> fresh = static n => n * 3; // a lambda's method is compiled on its first call
        Assert.Equal(6, fresh(2));
        Assert.True(measurement.CompiledMethods() > before);
    }

    [Fact]
    public void NoWarmupWhenNeitherStepsNorSeconds()
    {
        var (times, steps, warmups) = Measure(new Measurement(WarmupSteps: 0, WarmupSeconds: 0, MinSteps: 2, MinSeconds: 0));
        Assert.Equal((2, 0, 2), (steps, warmups, times.Count));
    }

    [Fact]
    public void TimedLoopRunsPastMinStepsUntilMinSeconds()
    {
        var (times, _, _) = Measure(new Measurement(WarmupSteps: 0, WarmupSeconds: 0, MinSteps: 2, MinSeconds: 1.5));
        Assert.Equal(15, times.Count);
    }

    [Fact]
    public void TimedLoopRunsPastMinSecondsUntilMinSteps()
    {
        var (times, _, _) = Measure(new Measurement(WarmupSteps: 0, WarmupSeconds: 0, MinSteps: 12, MinSeconds: 0.3));
        Assert.Equal(12, times.Count);
    }

    [Fact]
    public void MaxStepsCapsTheTimedLoop()
    {
        var (times, _, _) = Measure(new Measurement(WarmupSteps: 2, WarmupSeconds: 0, MinSteps: 5, MinSeconds: 100, MaxSteps: 7));
        Assert.Equal(7, times.Count);
    }

    [Fact]
    public void StatisticsOfTheTimersSamples()
    {
        var (times, _, _) = Measure(new Measurement(WarmupSteps: 1, WarmupSeconds: 0, MinSteps: 10, MinSeconds: 0));
        Assert.Equal((5.5, 1, 10), (times.MedianMs, times.MinMs, times.MaxMs));
        Assert.Equal(1.9, times.P10Ms, 12);
        Assert.Equal(9.1, times.P90Ms, 12);
    }

    [Fact]
    public void ProgressEndsAtOneWhenBothMinimaAreMet()
    {
        var seen = new List<(string Phase, double Share)>();
        var clock = new FakeClock();
        using var backend = new CountingTimerBackend();
        new Measurement(WarmupSteps: 2, WarmupSeconds: 0, MinSteps: 4, MinSeconds: 0.2) { Clock = clock }
            .Run(backend, () => clock.Ticks += StepTicks, (phase, share) => seen.Add((phase, share)), TestContext.Current.CancellationToken);
        Assert.Equal([("warm-up", 0), ("warm-up", 0), ("measuring", 0.25), ("measuring", 0.5), ("measuring", 0.75), ("measuring", 1)], seen);
    }

    [Fact]
    public void CancellationStopsTheLoop()
    {
        using var cancel = new CancellationTokenSource();
        using var backend = new CountingTimerBackend();
        int steps = 0;
        Assert.Throws<OperationCanceledException>(() => new Measurement(WarmupSteps: 0, WarmupSeconds: 0, MinSteps: 100, MinSeconds: 0)
            .Run(backend, () => { if (++steps == 3) cancel.Cancel(); }, cancel: cancel.Token));
        Assert.Equal(3, steps);
    }

    [Fact]
    public void ADebugBuildIsRefusedInOneLineNamingIt()
    {
        var debuggable = new CustomAttributeBuilder(typeof(DebuggableAttribute).GetConstructor([typeof(DebuggableAttribute.DebuggingModes)])!,
            [DebuggableAttribute.DebuggingModes.Default | DebuggableAttribute.DebuggingModes.DisableOptimizations]);
        var debugBuild = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("KernelLab.DebugBuilt"), AssemblyBuilderAccess.Run, [debuggable]);
        var e = Assert.Throws<KernelLabException>(() => Measurement.RefuseDebugBuild(debugBuild, debuggerAttached: false));
        Assert.Equal("this is a Debug build (KernelLab.DebugBuilt has the JIT optimizer off): timings from it mean nothing; build with -c Release", e.Message);

        Measurement.RefuseDebugBuild(typeof(Measurement).Assembly, debuggerAttached: false); // the tests run a Release build
        Assert.Throws<KernelLabException>(() => Measurement.RefuseDebugBuild(typeof(Measurement).Assembly, debuggerAttached: true));
    }

    /// <summary>
    /// Runs the measurement on the fake clock, with the runtime compiling a method during each of the first
    /// <paramref name="compiledDuringSteps"/> steps (none: the count is still from the start, so a warm-up of 0.25 s or
    /// more is not lengthened).
    /// </summary>
    private static (StepTimes Times, int Steps, int Warmups) Measure(Measurement measurement, int compiledDuringSteps = 0)
    {
        var clock = new FakeClock();
        using var backend = new CountingTimerBackend();
        int steps = 0, warmups = 0;
        long compiled = 0;
        var times = (measurement with { Clock = clock, CompiledMethods = () => compiled }).Run(backend, () =>
        {
            if (steps++ < compiledDuringSteps)
                compiled++;
            clock.Ticks += StepTicks;
        }, (phase, _) => warmups += phase == "warm-up" ? 1 : 0, TestContext.Current.CancellationToken);
        return (times, steps, warmups);
    }

    private sealed class FakeClock : TimeProvider
    {
        public long Ticks { get; set; }

        public override long TimestampFrequency => 1000;

        public override long GetTimestamp() => Ticks;
    }

    /// <summary>The reference backend with a timer whose n-th measurement reads n ms.</summary>
    private sealed class CountingTimerBackend : ReferenceBackend
    {
        private int _timed;

        public override IDeviceTimer CreateTimer() => new CountingTimer(this);

        private sealed class CountingTimer(CountingTimerBackend backend) : IDeviceTimer
        {
            public void Start()
            {
            }

            public double Stop() => ++backend._timed;
        }
    }
}
