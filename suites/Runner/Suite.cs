using System.Security.Cryptography;
using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Networks;
using KernelLab.Models.Training;
using KernelLab.Results;

namespace KernelLab.Suites;

/// <summary>
/// One workload of a suite as it runs: a model config of MODELS.md, its batch and, for sequence models, its length. A workload
/// whose file gives a list (<c>"batch": [16, 32]</c>, <c>"threads": [1, 2]</c>) runs once per value: one Workload each, under
/// the workload's name, batch by batch and within a batch thread count by thread count.
/// </summary>
public sealed record Workload(string Name, ModelConfig Model, int Batch, int? Seq)
{
    public BatchShape Shape => new(Batch, Seq ?? 1);

    /// <summary>Tokens of one batch (B*T) for sequence models, null otherwise.</summary>
    public long? TokensPerBatch => Seq is { } t ? (long)Batch * t : null;

    /// <summary>The host threads the backend runs on, from the workload's <c>threads</c>; null where it gives none (the backend's default).</summary>
    public int? Threads { get; init; }

    /// <summary>The file gives a list of batches, so the batch tells this run apart from the workload's others.</summary>
    public bool SweepsBatch { get; init; }

    /// <summary>The name with the swept values, "mlp batch=16 threads=2": one run's name where a workload has several.</summary>
    public string Label => Name + (SweepsBatch ? $" batch={Batch}" : "") + (Threads is { } t ? $" threads={t}" : "");

    /// <summary>The data, target and seeds of a workload trained to a target; null for a timed workload.</summary>
    public TrainingSpec? Training { get; init; }
}

/// <summary>One run of a suite: a workload on a backend with a seed, at its <paramref name="Position"/> in the suite's fixed order.</summary>
public sealed record SuiteRun(int Position, Workload Workload, string Backend, ulong Seed)
{
    public PlannedRun Planned => new(Workload.Name, Backend, Seed);
}

/// <summary>A backend the suite does not run on a kind of device (cpu, gpu, accelerator), and why.</summary>
public sealed record DeviceSkip(string Backend, string Kind, string Reason);

/// <summary>
/// A suite file (shared/spec/SUITES.md), checked whole by <see cref="Load"/> before anything runs: every
/// problem is one line naming the file, the workload and the field.
/// </summary>
public sealed record Suite
{
    public required string Name { get; init; }

    /// <summary>The file it was read from.</summary>
    public required string Source { get; init; }

    /// <summary>SHA-256 of the file's bytes, hex, lower case: the suite file's identity when shards are merged; null for a suite not read from a file.</summary>
    public string? Sha256 { get; init; }

    public required IReadOnlyList<string> Backends { get; init; }

    public required int WarmupSteps { get; init; }

    /// <summary>
    /// The least time the warm-up lasts (default 0.5 s): besides first-use costs (kernel builds, first allocations),
    /// the runtime replaces a method's first code with optimised code only after it has run a while, so a few warm-up
    /// steps of a fast workload would leave that start-up in the measured steps.
    /// </summary>
    public double WarmupSeconds { get; init; } = DefaultWarmupSeconds;

    public const double DefaultWarmupSeconds = 0.5;

    public required int MinSteps { get; init; }

    public required double MinSeconds { get; init; }

    /// <summary>A cap on measured steps, so that a very fast step does not record samples without end (default 10000).</summary>
    public int MaxSteps { get; init; } = DefaultMaxSteps;

    /// <summary>Seeds the parameters; the batch takes seed + 1 (default 1, as <c>kernellab init --seed 1</c>).</summary>
    public ulong Seed { get; init; } = 1;

    public required OptimizerSettings Optimizer { get; init; }

    /// <summary>The optimizer's learning-rate schedule (its "schedule"), or null.</summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <summary>The optimizer object as the file spells it, recorded in results as it was given.</summary>
    public required JsonElement OptimizerJson { get; init; }

    public required IReadOnlyList<Workload> Workloads { get; init; }

    /// <summary>
    /// Backends the suite does not time on a kind of device (<c>skip_devices</c>), each with the reason: its runs there are
    /// recorded <c>skipped</c> with it. The standard suite skips ilgpu on its CPU accelerator, which runs a group's threads as
    /// host threads and would make the main job much longer; on a GPU it is timed.
    /// </summary>
    public IReadOnlyList<DeviceSkip> SkipDevices { get; init; } = [];

    public const int DefaultMaxSteps = 10000;

    /// <summary>The suite's warm-up and timed-loop rule (warmup_steps, warmup_seconds, min_steps, min_seconds, max_steps).</summary>
    public Measurement Measurement => new(WarmupSteps, WarmupSeconds, MinSteps, MinSeconds, MaxSteps);

    /// <summary>A workload's network with seeded parameters and batch, checked to fit with the suite's optimizer state: what run checks and times, and the benchmarks time.</summary>
    public Network CreateSeededNetwork(Backend backend, Workload workload, ulong seed) =>
        Network.CreateSeeded(backend, workload.Model, workload.Shape, seed, Optimizer);

    /// <summary>The suite's optimizer and schedule over <paramref name="network"/>'s parameters: one <see cref="Optimizer.Step"/> is one training step.</summary>
    public Optimizer CreateOptimizer(Backend backend, Network network) => new(backend, network.Parameters.All, Optimizer, Schedule);

    /// <summary>The reason the suite skips <paramref name="backend"/> on a device of <paramref name="kind"/>, or null.</summary>
    public string? SkipReason(string backend, string kind) =>
        SkipDevices.FirstOrDefault(d => d.Backend == backend && d.Kind == kind)?.Reason;

    /// <summary>
    /// Every run of the suite on <paramref name="backends"/>, numbered in one fixed order: workloads as the file lists them,
    /// then backends as given, then seeds. The runner runs them in this order, and <c>--shard</c> deals this list out
    /// (<see cref="Shard.Assign"/>), so that a shard is the same runs on every machine.
    /// </summary>
    public IReadOnlyList<SuiteRun> Runs(IReadOnlyList<string> backends)
    {
        var runs = new List<SuiteRun>();
        foreach (var workload in Workloads)
            foreach (string backend in backends)
                runs.Add(new SuiteRun(runs.Count, workload, backend, Seed));
        return runs;
    }

    /// <summary>The suite with only the workloads named (<c>--workloads</c>), in the file's order; a name it lacks is one line naming <paramref name="where"/>.</summary>
    public Suite Only(IReadOnlyCollection<string> names, string where)
    {
        if (names.Count == 0)
            throw new KernelLabException($"{where}: no workload named");
        if (names.FirstOrDefault(n => Workloads.All(w => w.Name != n)) is { } unknown)
            throw new KernelLabException($"{where}: the suite {Source} has no workload '{unknown}' (it has {string.Join(", ", Workloads.Select(w => w.Name).Distinct())})");
        return this with { Workloads = [.. Workloads.Where(w => names.Contains(w.Name))] };
    }

    /// <summary>Reads and checks a suite file; a bad one throws a one-line <see cref="KernelLabException"/>.</summary>
    public static Suite Load(string path)
    {
        using var doc = InputFile.ReadJson(path, "suite file");
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(InputFile.ReadBytes(path, "suite file")));
        return Parse(doc.RootElement, path) with { Sha256 = sha256 };
    }

    public static Suite Parse(JsonElement json, string source)
    {
        var f = new JsonFields(json, source);
        string name = f.String("name");
        string[] backends = f.StringArray("backends", minLength: 0);
        foreach (string backend in backends)
            Known(backend, $"{source}: 'backends'");

        int warmup = NonNegative(f, "warmup_steps", source);
        double warmupSeconds = f.Has("warmup_seconds") ? f.Number("warmup_seconds") : DefaultWarmupSeconds;
        if (!(warmupSeconds >= 0) || !double.IsFinite(warmupSeconds))
            throw new KernelLabException($"{source}: 'warmup_seconds' is {warmupSeconds}, expected a number >= 0");
        int minSteps = f.Int("min_steps");
        double minSeconds = f.Number("min_seconds");
        if (!(minSeconds >= 0) || !double.IsFinite(minSeconds))
            throw new KernelLabException($"{source}: 'min_seconds' is {minSeconds}, expected a number >= 0");
        int maxSteps = f.Has("max_steps") ? f.Int("max_steps") : DefaultMaxSteps;
        if (maxSteps < minSteps)
            throw new KernelLabException($"{source}: 'max_steps' {maxSteps} is less than 'min_steps' {minSteps}");
        ulong seed = f.Has("seed") ? (ulong)NonNegative(f, "seed", source) : 1;

        var optimizerJson = f.Element("optimizer").Clone();
        OptimizerSettings optimizer;
        LearningRateSchedule? schedule;
        try
        {
            optimizer = KernelLab.Models.Training.Optimizer.ParseSettings(optimizerJson, $"{source}: 'optimizer'");
            schedule = LearningRateSchedule.Parse(optimizerJson, $"{source}: 'optimizer'");
        }
        catch (KernelLabException e) when (!e.Message.StartsWith(source, StringComparison.Ordinal))
        {
            throw new KernelLabException($"{source}: 'optimizer': {e.Message}");
        }

        var workloadsJson = f.Element("workloads");
        if (workloadsJson.ValueKind != JsonValueKind.Array || workloadsJson.GetArrayLength() == 0)
            throw new KernelLabException($"{source}: 'workloads' must be a non-empty array of workloads");
        var workloads = new List<Workload>();
        int index = 0;
        foreach (var w in workloadsJson.EnumerateArray())
        {
            var points = ParseWorkload(w, $"{source}: workloads[{index++}]");
            if (workloads.Any(x => x.Name == points[0].Name))
                throw new KernelLabException($"{source}: workload name '{points[0].Name}' appears twice");
            workloads.AddRange(points);
        }

        var suite = new Suite
        {
            Name = name, Source = source, Backends = backends, WarmupSteps = warmup, WarmupSeconds = warmupSeconds, MinSteps = minSteps,
            MinSeconds = minSeconds, MaxSteps = maxSteps, Seed = seed, Optimizer = optimizer, Schedule = schedule,
            OptimizerJson = optimizerJson, Workloads = workloads, SkipDevices = ParseSkipDevices(f, backends, source),
        };
        suite.CheckThreads(backends, $"{source}: 'backends'");
        return suite;
    }

    /// <summary>
    /// Throws the one-line error where a workload gives <c>threads</c> and one of <paramref name="backends"/> has no thread
    /// count to set (a GPU backend, the single-threaded reference): a suite that sweeps threads runs only backends that take them.
    /// </summary>
    public void CheckThreads(IEnumerable<string> backends, string where)
    {
        if (Workloads.FirstOrDefault(w => w.Threads is not null) is not { } swept)
            return;
        foreach (string backend in backends)
            if (BackendRegistry.Find(backend).CreateOnThreads is null)
                throw new KernelLabException($"{where}: backend '{backend}' does not run on host threads, and workload '{swept.Name}' gives 'threads' " +
                    $"(a thread count applies to {string.Join(", ", BackendRegistry.All.Where(e => e.CreateOnThreads is not null).Select(e => e.Name))})");
    }

    /// <summary>Throws the one-line error for a backend name the registry does not know.</summary>
    public static void Known(string backend, string where)
    {
        if (!BackendRegistry.Names.Contains(backend))
            throw new KernelLabException($"{where}: unknown backend '{backend}': expected one of {string.Join(", ", BackendRegistry.Names)}");
    }

    private static readonly string[] DeviceKinds = ["cpu", "gpu", "accelerator"];

    private static List<DeviceSkip> ParseSkipDevices(JsonFields f, string[] backends, string source)
    {
        var skips = new List<DeviceSkip>();
        if (!f.Has("skip_devices"))
            return skips;
        var array = f.Element("skip_devices");
        if (array.ValueKind != JsonValueKind.Array)
            throw new KernelLabException($"{source}: 'skip_devices' must be an array of {{\"backend\", \"kind\", \"reason\"}} objects");
        int index = 0;
        foreach (var entry in array.EnumerateArray())
        {
            string where = $"{source}: skip_devices[{index++}]";
            var e = new JsonFields(entry, where);
            string backend = e.String("backend");
            if (!backends.Contains(backend))
                throw new KernelLabException($"{where}: backend '{backend}' is not in the suite's 'backends'");
            string kind = e.String("kind");
            if (!DeviceKinds.Contains(kind))
                throw new KernelLabException($"{where}: 'kind' is \"{kind}\", expected one of {string.Join(", ", DeviceKinds)}");
            string reason = e.String("reason");
            if (string.IsNullOrWhiteSpace(reason))
                throw new KernelLabException($"{where}: 'reason' is empty: say why the suite skips {backend} there");
            skips.Add(new DeviceSkip(backend, kind, reason));
        }
        return skips;
    }

    /// <summary>The workload once per value of its <c>batch</c> and <c>threads</c> lists (once where it has none).</summary>
    private static List<Workload> ParseWorkload(JsonElement json, string source)
    {
        var f = new JsonFields(json, source);
        string name = f.String("name");
        source = $"{source} ('{name}')";
        f = new JsonFields(json, source);
        var model = ModelConfig.Parse(f.Element("model"), $"{source}: 'model'");
        bool sweepsBatch = f.Element("batch").ValueKind == JsonValueKind.Array;
        int[] batches = sweepsBatch ? SweepValues(f, "batch", source) : [f.Int("batch")];
        int?[] threads = f.Has("threads") ? [.. SweepValues(f, "threads", source).Select(t => (int?)t)] : [null];
        int? seq = null;
        if (model.IsSequence)
        {
            if (!f.Has("seq"))
                throw new KernelLabException($"{source}: 'seq' is missing: a {model.Family} workload needs its sequence length");
            seq = f.Int("seq");
            if (model is TransformerConfig t && seq > t.Context)
                throw new KernelLabException($"{source}: 'seq' {seq} is more than the model's context {t.Context}");
        }
        else if (f.Has("seq"))
        {
            throw new KernelLabException($"{source}: 'seq' is given, but a {model.Family} workload has no sequence");
        }
        var training = TrainingSpec.Parse(f, model, source);
        return [.. batches.SelectMany(batch => threads.Select(t => new Workload(name, model, batch, seq) { Threads = t, SweepsBatch = sweepsBatch, Training = training }))];
    }

    /// <summary>A list of distinct positive integers (a single one for <c>threads</c> too): the values a workload is run at.</summary>
    private static int[] SweepValues(JsonFields f, string name, string source)
    {
        int[] values = f.Element(name).ValueKind == JsonValueKind.Array ? f.IntArray(name, minLength: 1) : [f.Int(name)];
        if (values.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new KernelLabException($"{source}: '{name}' lists {twice.Key} twice");
        return values;
    }

    private static int NonNegative(JsonFields f, string name, string source)
    {
        var v = f.Element(name);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i >= 0
            ? i
            : throw new KernelLabException($"{source}: '{name}' is {v.GetRawText()}, expected an integer >= 0");
    }
}
