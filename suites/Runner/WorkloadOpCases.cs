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
    /// <summary>
    /// The cases of every workload, each distinct op and shape once per workload, in the order of first use, with how
    /// many of the step's calls noted it (<see cref="OpRecorder.RunsPerStep"/> turns that into runs of the case).
    /// </summary>
    public static IReadOnlyList<WorkloadOpCase> For(IEnumerable<(string Name, ModelConfig Config, BatchShape Shape)> workloads, OptimizerSettings optimizer) =>
        [.. workloads.SelectMany(w => TrainingStep(w.Config, w.Shape, optimizer).Select(c => new WorkloadOpCase(w.Name, c.Case, c.Calls)))];

    private static IReadOnlyList<RecordedCase> TrainingStep(ModelConfig config, BatchShape shape, OptimizerSettings settings)
    {
        using var recorder = new OpRecorder();
        using var network = Network.CreateSeeded(recorder, config, shape, seed: 1); // the values do not change which ops run
        using var optimizer = new Optimizer(recorder, network.Parameters.All, settings);
        return recorder.Record(() => optimizer.Step(network));
    }
}

/// <summary>An op case of one workload's training step, and how many of the step's calls to the contract noted it.</summary>
public sealed record WorkloadOpCase(string Workload, OpCase Case, int Calls);
