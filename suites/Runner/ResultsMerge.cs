using KernelLab.Backends;
using KernelLab.Results;

namespace KernelLab.Suites;

/// <summary>
/// A merged results file, the planned runs that none of its inputs held (empty unless the merge allowed it) and, when
/// there are any, the line that names them.
/// </summary>
public sealed record MergeOutcome(ResultsDocument Document, IReadOnlyList<PlannedRun> Missing, string? MissingNote);

/// <summary>
/// <c>kernellab merge</c>: one results file from the shards of a suite (<c>kernellab run --shard I/N</c>), checked first:
/// every input is a results file of the same suite file (<c>settings.suite_sha256</c>) and the same plan, and every
/// planned run is in exactly one of them. A partial merge (a shard that failed or was cancelled) merges what there
/// is and names what is missing. An input may itself be a merged file, so that a shard run again completes it.
/// </summary>
public static class ResultsMerge
{
    private sealed record Input(string Source, string File, ResultsDocument Document);

    /// <summary>Every problem throws a one-line <see cref="KernelLabException"/> before anything is written.</summary>
    public static MergeOutcome Merge(IReadOnlyList<string> sources, bool allowPartial)
    {
        if (sources.Count == 0)
            throw new KernelLabException("no results folder to merge");
        var inputs = sources.Select(Load).ToList();
        var first = inputs[0];
        var plan = first.Document.Plan!;
        foreach (var input in inputs.Skip(1))
        {
            var (settings, firstSettings) = (input.Document.Settings!, first.Document.Settings!);
            if (settings.SuiteSha256 != firstSettings.SuiteSha256)
                throw new KernelLabException($"{input.File}: ran suite file {settings.SuiteFile} (sha256 {settings.SuiteSha256![..12]}), but " +
                    $"{first.File} ran {firstSettings.SuiteFile} (sha256 {firstSettings.SuiteSha256![..12]}): only shards of one suite file merge");
            if (!input.Document.Plan!.SequenceEqual(plan))
                throw new KernelLabException($"{input.File}: its suite run plans other runs than {first.File}'s ({input.Document.Plan!.Count} against " +
                    $"{plan.Count}): the shards were run with different --backends");
        }

        var position = plan.Select((run, i) => (run, i)).ToDictionary(p => p.run, p => p.i);
        var found = new Dictionary<PlannedRun, (RunRecord Run, Input From)>();
        foreach (var input in inputs)
        {
            foreach (var run in input.Document.Runs)
            {
                var key = PlannedRun.Of(run, input.Document.Settings);
                if (!position.ContainsKey(key))
                    throw new KernelLabException($"{input.File}: it holds {key}, which is not in the suite's plan");
                if (found.TryGetValue(key, out var other))
                    throw new KernelLabException($"{key} is in both {other.From.File} and {input.File}: merge each shard once");
                found[key] = (run with { Host = run.Host ?? input.Document.Machine.Host }, input);
            }
        }

        var missing = plan.Where(run => !found.ContainsKey(run)).ToList();
        string? note = missing.Count > 0 ? Missing(missing, plan, inputs) : null;
        if (note is not null && !allowPartial)
            throw new KernelLabException($"{note}; merge the rest with --allow-partial");

        var mergedFrom = inputs.SelectMany(i => i.Document.MergedFrom ?? [new MergedResults
            {
                Source = i.Source, Shard = i.Document.Shard, Started = i.Document.Started, Finished = i.Document.Finished,
                Runs = i.Document.Runs.Count, Machine = i.Document.Machine,
            }])
            .OrderBy(m => m.Shard?.Index ?? -1).ToList();
        var document = new ResultsDocument
        {
            Schema = ResultsDocument.SchemaName,
            Suite = first.Document.Suite,
            Started = inputs.Min(i => i.Document.Started)!,
            Finished = inputs.Max(i => i.Document.Finished ?? i.Document.Started),
            Machine = mergedFrom[0].Machine,
            Settings = first.Document.Settings,
            Runs = found.Values.OrderBy(f => position[PlannedRun.Of(f.Run, f.From.Document.Settings)]).Select(f => f.Run).ToList(),
            Plan = plan,
            MergedFrom = mergedFrom,
        };
        return new MergeOutcome(document, missing, note);
    }

    /// <summary>"3 of 12 runs are missing: ... (shard 1/3)": every missing run and, where the inputs are shards of one count, the shards that should have run them.</summary>
    private static string Missing(List<PlannedRun> missing, IReadOnlyList<PlannedRun> plan, List<Input> inputs)
    {
        string shards = "";
        if (inputs.Select(i => i.Document.Shard?.Count).Distinct().ToList() is [int count])
        {
            int[] shardOf = Shard.Assign(plan, count);
            var lacking = Enumerable.Range(0, plan.Count).Where(p => missing.Contains(plan[p])).Select(p => shardOf[p]).Distinct().Order();
            shards = $" (shard {string.Join(", ", lacking.Select(i => new Shard(i, count)))})";
        }
        return $"{missing.Count} of {plan.Count} runs are missing: {string.Join(", ", missing)}{shards}";
    }

    private static Input Load(string source)
    {
        if (string.IsNullOrEmpty(source))
            throw new KernelLabException("a results folder path is empty");
        string file;
        if (Directory.Exists(source))
        {
            file = Path.Combine(source, ResultsFile.FileName);
            if (!File.Exists(file))
                throw new KernelLabException($"{source}: not a results folder: it has no {ResultsFile.FileName}");
        }
        else if (File.Exists(source))
        {
            file = source;
        }
        else
        {
            throw new KernelLabException($"{source}: not found, expected a results folder");
        }
        var document = ResultsFile.Load(file);
        if (document.Settings?.SuiteSha256 is not { Length: > 0 } || document.Plan is null)
            throw new KernelLabException($"{file}: it records no suite hash and plan (settings.suite_sha256, plan): written by a kernellab older " +
                "than merge, or not by 'kernellab run', so merge cannot check that it ran the same suite");
        return new Input(source, file, document);
    }
}
