using System.Text.Json.Serialization;

namespace KernelLab.Results;

/// <summary>
/// An ops file (<c>kernellab ops --out</c>): every op case at a suite's shapes on one backend, checked against the reference
/// and then timed, with each op's counted FLOP and the least bytes it moves (its arithmetic intensity) and the machine's
/// measured peaks, so that a report can draw the ops on a roofline.
/// </summary>
/// <param name="Device">What the backend ran on (its DeviceInfo name), of <paramref name="DeviceKind"/> cpu, gpu or accelerator.</param>
/// <param name="Shapes">The suite whose workloads gave the shapes.</param>
/// <param name="Machine">The machine and its measured peaks, FMA GFLOP/s and copy GB/s: the roofline's ceilings (absent in older files).</param>
public sealed record OpsDocument(string Schema, string Backend, string Device, string Precision, string Shapes, double Tolerance,
    IReadOnlyList<OpRecord> Ops, string? DeviceKind = null, MachineInfo? Machine = null)
{
    public const string SchemaName = "kernellab.ops/1";
}

/// <summary>One op case: its check against the reference and, when it passed, its time (median and min of <paramref name="Repeats"/> runs).</summary>
/// <param name="MaxErr">The largest error, in the tensor <paramref name="Worst"/>; null where a NaN or an infinity appeared, or the op threw.</param>
/// <param name="Flop">The arithmetic of the op's calls (backends/Conformance/OpCases.cs); with <paramref name="Bytes"/>, the least bytes they
/// read and write at the backend's precision, the op's arithmetic intensity (both absent in older files).</param>
/// <param name="RunsPerStep">How many times one training step of <paramref name="Workload"/> runs the case (a forward and its backward
/// are one run of their case), so that the median times it is the case's share of a step (absent in older files).</param>
public sealed record OpRecord(string Workload, string Op, string Shape, bool Passed, int Repeats, double? MaxErr = null, string? Worst = null,
    string? Error = null, double? MedianMs = null, double? MinMs = null, double? Flop = null, long? Bytes = null, double? RunsPerStep = null)
{
    /// <summary>The case's time in one step of its workload: its median times its runs per step; null where either is unknown.</summary>
    [JsonIgnore]
    public double? MsPerStep => MedianMs * RunsPerStep;
}

/// <summary>One op's part of a workload's training step, over all its shapes: runs and ms per step (OpRecord.MsPerStep summed).</summary>
public sealed record StepOp(string Op, double RunsPerStep, double MsPerStep)
{
    /// <summary>
    /// The ops of one workload's records that have a time in the step, each op once with its shapes added up, largest
    /// first: where the step's time goes (kernellab ops' summary line, the report's table).
    /// </summary>
    public static IReadOnlyList<StepOp> Of(IEnumerable<OpRecord> workload) =>
        [.. workload.Where(r => r.MsPerStep is not null).GroupBy(r => r.Op)
            .Select(g => new StepOp(g.Key, g.Sum(r => r.RunsPerStep!.Value), g.Sum(r => r.MsPerStep!.Value)))
            .OrderByDescending(o => o.MsPerStep)];
}
