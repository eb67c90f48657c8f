using KernelLab.Backends;
using KernelLab.Backends.Conformance;
using KernelLab.Models;
using KernelLab.Models.Networks;
using KernelLab.Models.Training;

namespace KernelLab.Suites;

/// <summary>
/// The op cases of a suite's workloads at their shapes: what one training step of each (forward, backward and the
/// optimizer's update, <see cref="Optimizer.Step"/>) calls, recorded on an <see cref="OpRecorder"/>.
/// What <c>kernellab ops</c> and the op tests check at the standard shapes.
/// </summary>
public static class WorkloadOpCases
{
    /// <summary>The cases of every workload, each distinct op and shape once, in the order the workloads first use them.</summary>
    public static IReadOnlyList<(string Workload, OpCase Case)> For(IEnumerable<(string Name, ModelConfig Config, BatchShape Shape)> workloads, OptimizerSettings optimizer)
    {
        var seen = new HashSet<string>();
        var cases = new List<(string, OpCase)>();
        foreach (var (name, config, shape) in workloads)
            foreach (var c in TrainingStep(config, shape, optimizer))
                if (seen.Add(c.Name))
                    cases.Add((name, c));
        return cases;
    }

    private static IReadOnlyList<OpCase> TrainingStep(ModelConfig config, BatchShape shape, OptimizerSettings settings)
    {
        using var recorder = new OpRecorder();
        using var network = Network.CreateSeeded(recorder, config, shape, seed: 1); // the values do not change which ops run
        using var optimizer = new Optimizer(recorder, network.Parameters.All, settings);
        return recorder.Record(() => optimizer.Step(network));
    }
}
