using System.Text.Json;
using System.Text.Json.Serialization;

namespace KernelLab.Results;

/// <summary>
/// A result file, <c>results.json</c> (shared/spec/SUITES.md). The fixed fields of the spec are <c>required</c>
/// here, under the spec's names; everything else is additional and optional, so that files written by older
/// versions, or by tools/torch_baseline.py, still load.
/// </summary>
public sealed record ResultsDocument
{
    public const string SchemaName = "kernellab.results/1";

    public required string Schema { get; init; }

    public required string Suite { get; init; }

    /// <summary>UTC, ISO 8601 ("2026-11-21T10:00:00Z").</summary>
    public required string Started { get; init; }

    public string? Finished { get; init; }

    public required MachineInfo Machine { get; init; }

    /// <summary>How the runs were measured (warm-up, minimum steps and seconds, optimizer, seed).</summary>
    public RunSettings? Settings { get; init; }

    public required IReadOnlyList<RunRecord> Runs { get; init; }

    /// <summary>
    /// Every run of the suite, in its fixed order, whichever share of them this file holds: what <c>kernellab merge</c>
    /// checks shards against (absent in files written before sharding existed).
    /// </summary>
    public IReadOnlyList<PlannedRun>? Plan { get; init; }

    /// <summary>The share of <see cref="Plan"/> this run took (<c>kernellab run --shard I/N</c>); null when it took the whole plan.</summary>
    public Shard? Shard { get; init; }

    /// <summary>
    /// In a file that <c>kernellab merge</c> wrote: the results it was merged from, in shard order, each with the machine it
    /// ran on (<see cref="Machine"/> is the first of them).
    /// </summary>
    public IReadOnlyList<MergedResults>? MergedFrom { get; init; }

    /// <summary>Every machine the runs ran on: each merged file's, else <see cref="Machine"/>.</summary>
    [JsonIgnore]
    public IReadOnlyList<MachineInfo> Machines => MergedFrom is { Count: > 0 } merged ? merged.Select(m => m.Machine).ToList() : [Machine];
}

/// <summary>One run of a suite's plan: a workload on a backend with a seed. Two runs with the same three are the same run.</summary>
public sealed record PlannedRun(string Workload, string Backend, ulong Seed)
{
    /// <summary>The planned run that <paramref name="run"/> is, its seed taken from <paramref name="settings"/> where the record has none.</summary>
    public static PlannedRun Of(RunRecord run, RunSettings? settings) => new(run.Workload, run.Backend, run.Seed ?? settings?.Seed ?? 1);

    public override string ToString() => $"{Workload} on {Backend} (seed {Seed})";
}

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/>, counted from 0: its share of a plan's runs (<see cref="Assign"/>).
/// </summary>
public sealed record Shard(int Index, int Count)
{
    /// <summary>
    /// The shard of each run of <paramref name="plan"/>: the runs are dealt to the shards in turn, backend by backend (every
    /// run of the plan's first backend, then of its second, ...), so that the shards get as many runs as each other, give or
    /// take one, and each backend's runs, the slow reference's too, are spread over them. A shard runs its share in the plan's order.
    /// </summary>
    public static int[] Assign(IReadOnlyList<PlannedRun> plan, int count)
    {
        var backends = plan.Select(r => r.Backend).Distinct().ToList();
        var dealt = Enumerable.Range(0, plan.Count).OrderBy(i => backends.IndexOf(plan[i].Backend)).ThenBy(i => i).ToList();
        var shard = new int[plan.Count];
        for (int k = 0; k < dealt.Count; k++)
            shard[dealt[k]] = k % count;
        return shard;
    }

    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>One of the results files a merged file was merged from.</summary>
public sealed record MergedResults
{
    /// <summary>The folder or file it was read from, as <c>kernellab merge</c> was given it.</summary>
    public required string Source { get; init; }

    public Shard? Shard { get; init; }

    public required string Started { get; init; }

    public string? Finished { get; init; }

    /// <summary>How many of the merged runs came from it.</summary>
    public required int Runs { get; init; }

    public required MachineInfo Machine { get; init; }
}

public sealed record MachineInfo
{
    /// <summary>The host name (absent in files written before it was recorded).</summary>
    public string? Host { get; init; }

    /// <summary>The Slurm job the run was, <c>ARRAYJOB_TASK</c> for an array task or <c>JOBID</c>; null outside Slurm.</summary>
    public string? SlurmJob { get; init; }

    /// <summary>
    /// CUDA_VISIBLE_DEVICES as the process saw it (a GPU a scheduler gave it), null when unset. The CUDA backends' device
    /// 0 is the first GPU it names; <see cref="GpuInfo.Visible"/> marks them.
    /// </summary>
    public string? CudaVisibleDevices { get; init; }

    public required string Os { get; init; }

    public required string Cpu { get; init; }

    public required int Cores { get; init; }

    /// <summary>AVX-512, AVX2, SSE, NEON or none.</summary>
    public required string Simd { get; init; }

    public required IReadOnlyList<GpuInfo> Gpus { get; init; }

    public required string Dotnet { get; init; }

    /// <summary>The devices of the backend named opencl: the same as its entries in <see cref="Devices"/>, kept for the files that read them.</summary>
    public IReadOnlyList<OpenClDeviceInfo>? OpenclDevices { get; init; }

    /// <summary>Every device of every backend available on the machine, usable or not (absent in files written before it existed).</summary>
    public IReadOnlyList<DeviceRecord>? Devices { get; init; }

    /// <summary>float32 FMA throughput of all cores with the widest vectors the CPU has (<see cref="PeakVectorBits"/>), GFLOP/s.</summary>
    public double? PeakGflops { get; init; }

    /// <summary>The width of the FMA vectors <see cref="PeakGflops"/> was measured with: 512, 256 or 128 (absent in files written before it was recorded).</summary>
    public int? PeakVectorBits { get; init; }

    /// <summary>Copy bandwidth of a large buffer on all cores, read + write bytes, GB/s.</summary>
    public double? MemoryGbps { get; init; }
}

public sealed record GpuInfo
{
    public required string Name { get; init; }

    public string? Driver { get; init; }

    public double? MemoryMib { get; init; }

    /// <summary>nvidia-smi's index, the one CUDA_VISIBLE_DEVICES takes.</summary>
    public int? Index { get; init; }

    public string? Uuid { get; init; }

    /// <summary>Whether CUDA_VISIBLE_DEVICES names this GPU (by index or UUID); null when it is unset and every GPU is visible.</summary>
    public bool? Visible { get; init; }
}

public sealed record OpenClDeviceInfo
{
    public required string Name { get; init; }

    public string? Vendor { get; init; }

    public IReadOnlyDictionary<string, string>? Properties { get; init; }
}

/// <summary>One device of one backend, as the registry lists it.</summary>
public sealed record DeviceRecord
{
    public required string Backend { get; init; }

    /// <summary>What <c>--device</c> takes.</summary>
    public required string Id { get; init; }

    public required string Name { get; init; }

    /// <summary>cpu, gpu or accelerator.</summary>
    public required string Kind { get; init; }

    public required bool Available { get; init; }

    /// <summary>Why the device cannot be used; null when it can.</summary>
    public string? Reason { get; init; }

    public string? Vendor { get; init; }

    public IReadOnlyDictionary<string, string>? Properties { get; init; }
}

public sealed record RunSettings
{
    public int WarmupSteps { get; init; }

    /// <summary>The least time the warm-up lasts, whatever <see cref="WarmupSteps"/> says (absent in files written before it existed).</summary>
    public double? WarmupSeconds { get; init; }

    public int MinSteps { get; init; }

    public double MinSeconds { get; init; }

    public int? MaxSteps { get; init; }

    public ulong? Seed { get; init; }

    public JsonElement? Optimizer { get; init; }

    public string? SuiteFile { get; init; }

    /// <summary>SHA-256 of the suite file's bytes, hex: <c>kernellab merge</c> takes only shards of the same file (absent in files written before it was recorded).</summary>
    public string? SuiteSha256 { get; init; }
}

public static class RunStatus
{
    public const string Ok = "ok";
    public const string Failed = "failed";
    public const string Unavailable = "unavailable";

    /// <summary>The backend can run here, but the suite does not time it on this kind of device (its skip_devices); with the reason.</summary>
    public const string Skipped = "skipped";
}

/// <summary>One workload on one backend.</summary>
public sealed record RunRecord
{
    public required string Workload { get; init; }

    public required string Backend { get; init; }

    /// <summary><see cref="RunStatus"/>: ok, failed (with <see cref="Error"/>), unavailable or skipped (with <see cref="Reason"/>).</summary>
    public required string Status { get; init; }

    public string? Error { get; init; }

    public string? Reason { get; init; }

    public string? Family { get; init; }

    public int? Batch { get; init; }

    public int? Seq { get; init; }

    /// <summary>The seed of the parameters (the batch takes seed + 1); absent in files written before it was recorded, where <see cref="RunSettings.Seed"/> holds it.</summary>
    public ulong? Seed { get; init; }

    /// <summary>The host it ran on, as <see cref="MachineInfo.Host"/>: in a merged file, which of the machines.</summary>
    public string? Host { get; init; }

    /// <summary>The host threads the backend ran on, where the suite gives the workload a <c>threads</c> list (absent otherwise, and in older files).</summary>
    public int? Threads { get; init; }

    /// <summary>What the backend ran on (its DeviceInfo name) and its kind (cpu, gpu).</summary>
    public string? Device { get; init; }

    /// <summary>The backend's id of that device (its DeviceInfo "device" property: cuda's ordinal, ilgpu's cuda:0), where it has one.</summary>
    public string? DeviceId { get; init; }

    public string? DeviceKind { get; init; }

    public string? Precision { get; init; }

    public Correctness? Correctness { get; init; }

    public Throughput? Throughput { get; init; }

    /// <summary>A workload trained to a target (SUITES.md, "Training to a target"): per seed, its time to the target and its curves.</summary>
    public TrainingResult? Training { get; init; }

    [JsonIgnore]
    public bool IsOk => Status == RunStatus.Ok;

    /// <summary>The same workload on the same backend at the same batch and thread count: what a run of another file is paired with.</summary>
    public bool IsSameRunAs(RunRecord other) => IsRunOf(other.Workload, other.Backend, other.Batch, other.Threads);

    /// <summary>This run is of <paramref name="workload"/> on <paramref name="backend"/> at that batch and thread count.</summary>
    public bool IsRunOf(string workload, string backend, int? batch, int? threads) =>
        Workload == workload && Backend == backend && Batch == batch && Threads == threads;

    /// <summary>
    /// How <paramref name="runs"/> name a run: its workload, and where the runs hold the workload at several batches or thread
    /// counts (a suite's <c>batch</c> or <c>threads</c> list), the value of this one ("mlp batch=16 threads=2").
    /// </summary>
    public static Func<RunRecord, string> Labels(IEnumerable<RunRecord> runs)
    {
        var byWorkload = runs.GroupBy(r => r.Workload).ToDictionary(g => g.Key, g =>
            (Batches: g.Select(r => r.Batch).OfType<int>().Distinct().Count() > 1, Threads: g.Any(r => r.Threads is not null)));
        return run => byWorkload.TryGetValue(run.Workload, out var swept)
            ? run.Workload + (swept.Batches ? $" batch={run.Batch}" : "") + (swept.Threads && run.Threads is { } t ? $" threads={t}" : "")
            : run.Workload;
    }
}

/// <summary>
/// The backend's gradients and loss against the reference backend's on the same parameters and batch.
/// <see cref="Passed"/> and <see cref="MaxErr"/> are null where no comparison applies (an outside baseline
/// such as PyTorch, which <see cref="Note"/> explains); <see cref="MaxErr"/> is also null when a NaN or an
/// infinity appeared (JSON has no infinity), and then <see cref="Passed"/> is false.
/// </summary>
public sealed record Correctness
{
    public required bool? Passed { get; init; }

    public required double? MaxErr { get; init; }

    public required string? Reference { get; init; }

    public double? Tolerance { get; init; }

    /// <summary>The tensor where the largest error is.</summary>
    public string? Worst { get; init; }

    public string? Note { get; init; }
}

public sealed record Throughput
{
    public required double StepMsMedian { get; init; }

    public required double StepMsMin { get; init; }

    public required double StepMsMax { get; init; }

    public required int Steps { get; init; }

    public required double SamplesPerSecond { get; init; }

    public required double Gflops { get; init; }

    public double? StepMsP10 { get; init; }

    public double? StepMsP90 { get; init; }

    public double? TokensPerSecond { get; init; }

    /// <summary>Counted FLOP of one training step (models/FlopCount.cs).</summary>
    public double? FlopPerStep { get; init; }

    /// <summary>GFLOP/s over the machine's measured peak (CPU backends only: the peak probed is the CPU's).</summary>
    public double? PeakShare { get; init; }

    /// <summary>
    /// The untimed steps run before the timed ones: the suite's warm-up, and more while the runtime was still compiling
    /// (written as the suite's warmup_steps before that existed).
    /// </summary>
    public int? WarmupSteps { get; init; }

    /// <summary>Every measured step, in order, in milliseconds.</summary>
    public IReadOnlyList<double>? SamplesMs { get; init; }
}

/// <summary>
/// A training-to-target run (shared/spec/SUITES.md, "Training to a target"): the metric and its target, and what each seed
/// reached, with its curves for the report to draw.
/// </summary>
public sealed record TrainingResult
{
    /// <summary>accuracy (test set, a fraction; higher is better) or loss (validation cross-entropy in nats per token; lower is better).</summary>
    public required string Metric { get; init; }

    public required double Target { get; init; }

    /// <summary>The data as the run read it, in one line (how many training, validation and test examples).</summary>
    public string? Data { get; init; }

    public required IReadOnlyList<SeedTraining> Seeds { get; init; }

    /// <summary>Over the seeds, as MLPerf summarises them.</summary>
    public TrainingSummary? Summary { get; init; }
}

/// <summary>
/// How many seeds reached the target, and their mean time to it after dropping the fastest and the slowest (with three seeds
/// or more; the plain mean with fewer): null unless every seed reached the target, since a mean over the seeds that happened
/// to reach it would flatter the backend.
/// </summary>
public sealed record TrainingSummary
{
    public required int Seeds { get; init; }

    public required int Reached { get; init; }

    public double? TimeToTargetSMean { get; init; }

    public static TrainingSummary Of(IReadOnlyList<SeedTraining> seeds)
    {
        var times = seeds.Select(s => s.TimeToTargetS).ToList();
        double? mean = null;
        if (times.Count > 0 && times.All(t => t is not null))
        {
            var sorted = times.Select(t => t!.Value).Order().ToList();
            mean = (sorted.Count >= 3 ? sorted[1..^1] : sorted).Average();
        }
        return new TrainingSummary { Seeds = seeds.Count, Reached = times.Count(t => t is not null), TimeToTargetSMean = mean };
    }
}

/// <summary>One seed's training: when it reached the target (null when it did not), how far it went, and its curves.</summary>
public sealed record SeedTraining
{
    public required ulong Seed { get; init; }

    public double? TimeToTargetS { get; init; }

    public int Epochs { get; init; }

    public long Steps { get; init; }

    public double? FinalMetric { get; init; }

    /// <summary>Why training stopped: target, early_stopping, max_epochs or diverged (a loss that is NaN or infinite).</summary>
    public string? Stopped { get; init; }

    /// <summary>The final parameters, relative to the results file (<c>params/WORKLOAD-BACKEND-seedN.safetensors</c>).</summary>
    public string? Params { get; init; }

    public TrainingCurves? Curves { get; init; }
}

/// <summary>The training loss every step or every few steps, and the validation metric at each evaluation, each against the training step.</summary>
public sealed record TrainingCurves
{
    public required Curve TrainingLoss { get; init; }

    /// <summary>The target's metric at each evaluation: test accuracy for image data, validation loss for text.</summary>
    public required Curve Validation { get; init; }

    /// <summary>The validation loss at each evaluation (nats per token), what early stopping watches.</summary>
    public Curve? ValidationLoss { get; init; }
}

/// <summary>Values at training steps: <c>{"steps": [...], "values": [...]}</c>, the same length.</summary>
public sealed record Curve
{
    public required IReadOnlyList<long> Steps { get; init; }

    public required IReadOnlyList<double> Values { get; init; }
}
