using KernelLab.Backends;
using KernelLab.Models.Networks;
using KernelLab.Models.Training;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>
/// The cuda backend's <see cref="StepGraph"/>: a training step replayed as one graph launch gives the bits that the same
/// step run op by op gives, while its arguments change from step to step (the dropout masks' step, Adam's bias
/// corrections, a scheduled learning rate); and a step that copies, or queues other launches than the graph holds, still
/// runs correctly. On the CUDA emulator.
/// </summary>
[Collection(nameof(CudaEmulatorAlone))]
public sealed class CudaStepGraphTests
{
    private const int Steps = 6;

    [Theory]
    [InlineData("mlp-regularised")]     // dropout, batch norm, l1 and clipping
    [InlineData("transformer-dropout")]
    public void GraphedSteps_MatchOpByOpSteps_BitForBit(string workload)
    {
        CudaEmulatorTests.RequireEmulator();
        var suite = Suite.Load(Path.Combine(AppContext.BaseDirectory, "suites", "smoke.json"));
        var w = suite.Workloads.Single(x => x.Name == workload);
        var shape = w.Shape with { Batch = 2 };
        var schedule = new StepSchedule(StepSize: 2, Gamma: 0.5); // the rate changes every other step
        using var backend = TestBackends.CreateOrSkip("cuda");
        using var graphed = Network.CreateSeeded(backend, w.Model, shape, suite.Seed);
        using var opByOp = Network.CreateSeeded(backend, w.Model, shape, suite.Seed);
        using var graphedOptimizer = new Optimizer(backend, graphed.Parameters.All, suite.Optimizer, schedule);
        using var opByOpOptimizer = new Optimizer(backend, opByOp.Parameters.All, suite.Optimizer, schedule);
        for (int s = 1; s <= Steps; s++)
        {
            double loss = graphedOptimizer.Step(graphed);
            opByOp.Step = (ulong)s;
            double expected = opByOp.ComputeGradients() + opByOpOptimizer.Update();
            Assert.Equal(expected, loss);
        }
        var actual = State(graphed);
        foreach (var (name, values) in State(opByOp))
            Assert.True(values.AsSpan().SequenceEqual(actual[name]), $"{workload}: {name} differs after {Steps} graphed steps");
    }

    /// <summary>Every parameter and buffer (batch norm's running statistics) of the network, by name.</summary>
    private static Dictionary<string, double[]> State(Network network) =>
        network.Parameters.All.Select(p => (p.Name, View: (DeviceView)p.Value))
            .Concat(network.Parameters.Buffers.Select(b => (b.Name, View: (DeviceView)b.Value)))
            .ToDictionary(t => t.Name, t =>
            {
                var host = new double[t.View.Length];
                network.Backend.CopyOut(t.View, host);
                return host;
            });

    [Fact]
    public void StepThatCopies_RunsOpByOp_InOrder()
    {
        CudaEmulatorTests.RequireEmulator();
        using var backend = TestBackends.CreateOrSkip("cuda");
        using var a = backend.Allocate(5);
        using var graph = backend.CreateStepGraph();
        var host = new double[5];
        for (int run = 1; run <= 3; run++)
        {
            var before = EmulatorCounts.Read();
            graph.Run(static s =>
            {
                s.Backend.Fill(s.A, s.Run);
                s.Backend.CopyOut(s.A, s.Host); // reads the fill: the launch recorded before it has run
                s.Backend.Fill(s.A, -s.Run);
            }, (Backend: backend, A: (DeviceView)a, Host: host, Run: (double)run));
            Assert.All(host, v => Assert.Equal(run, v));
            Assert.Equal(new EmulatorCounts(2, 0, 0, 1), EmulatorCounts.Read() - before);
            backend.CopyOut(a, host);
            Assert.All(host, v => Assert.Equal(-run, v));
        }
    }

    [Fact]
    public void StepWithOtherLaunches_RebuildsTheGraph()
    {
        CudaEmulatorTests.RequireEmulator();
        using var backend = TestBackends.CreateOrSkip("cuda");
        using var a = backend.Allocate(300);
        using var graph = backend.CreateStepGraph();
        var host = new double[300];
        // The same step twice (built, then replayed with a new value), then one over fewer elements (another grid), then one more launch.
        foreach (var (length, fills) in new[] { (300, 1), (300, 1), (7, 1), (7, 2) })
        {
            backend.Fill(a, double.NaN);
            var before = EmulatorCounts.Read();
            graph.Run(static s =>
            {
                for (int f = 1; f <= s.Fills; f++)
                    s.Backend.Fill(((DeviceView)s.A).Slice(0, s.Length), s.Length + f);
            }, (Backend: backend, A: a, Length: length, Fills: fills));
            Assert.Equal(new EmulatorCounts(0, 1, fills, 0), EmulatorCounts.Read() - before);
            backend.CopyOut(a, host);
            Assert.All(host.AsSpan(0, length).ToArray(), v => Assert.Equal(length + fills, v));
            Assert.All(host.AsSpan(length).ToArray(), v => Assert.True(double.IsNaN(v)));
        }
    }

    [Fact]
    public void StepThatThrows_LeavesTheBackendUsable()
    {
        CudaEmulatorTests.RequireEmulator();
        using var backend = TestBackends.CreateOrSkip("cuda");
        using var a = backend.Allocate(4);
        using var graph = backend.CreateStepGraph();
        Assert.Throws<InvalidOperationException>(() => graph.Run(static s =>
        {
            s.Backend.Fill(s.A, 1);
            throw new InvalidOperationException("the step fails");
        }, (Backend: backend, A: (DeviceView)a)));
        graph.Run(static s => s.Backend.Fill(s.A, 2), (Backend: backend, A: (DeviceView)a));
        var host = new double[4];
        backend.CopyOut(a, host);
        Assert.All(host, v => Assert.Equal(2, v));
    }
}
