namespace KernelLab.Results;

/// <summary>
/// An ops file (<c>kernellab ops --out</c>): every op case at a suite's shapes on one backend, checked against the reference
/// and then timed, with each op's counted FLOP and the least bytes it moves (its arithmetic intensity) and the machine's
/// measured peaks, so that a report can draw the ops on a roofline. Fields other than the ones older files have are optional.
/// </summary>
public sealed record OpsDocument
{
    public const string SchemaName = "kernellab.ops/1";

    public required string Schema { get; init; }

    public required string Backend { get; init; }

    /// <summary>What the backend ran on (its DeviceInfo name) and its kind (cpu, gpu).</summary>
    public required string Device { get; init; }

    public string? DeviceKind { get; init; }

    public required string Precision { get; init; }

    /// <summary>The suite whose workloads gave the shapes.</summary>
    public required string Shapes { get; init; }

    public required double Tolerance { get; init; }

    /// <summary>The machine and its measured peaks (FMA GFLOP/s, copy GB/s): the roofline's ceilings.</summary>
    public MachineInfo? Machine { get; init; }

    public required IReadOnlyList<OpRecord> Ops { get; init; }
}

/// <summary>One op case: its check against the reference and, when it passed, its time.</summary>
public sealed record OpRecord
{
    public required string Workload { get; init; }

    public required string Op { get; init; }

    public required string Shape { get; init; }

    public required bool Passed { get; init; }

    /// <summary>Null where a NaN or an infinity appeared, or the op threw.</summary>
    public double? MaxErr { get; init; }

    /// <summary>The tensor where the largest error is.</summary>
    public string? Worst { get; init; }

    public string? Error { get; init; }

    public double? MedianMs { get; init; }

    public double? MinMs { get; init; }

    public required int Repeats { get; init; }

    /// <summary>The arithmetic of the op's calls (backends/Conformance/OpCases.cs).</summary>
    public double? Flop { get; init; }

    /// <summary>The least bytes the calls read and write at the backend's precision.</summary>
    public long? Bytes { get; init; }
}
