using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Data;

namespace KernelLab.Suites;

/// <summary>
/// What a workload is trained to (shared/spec/SUITES.md, "Training to a target on real data"): <c>accuracy</c> on the test
/// set (image data; reached at or above <see cref="Value"/>) or <c>loss</c>, the validation cross-entropy in nats per token
/// (reached at or below it); at most <see cref="MaxEpochs"/> epochs; early stopping after <see cref="Patience"/> evaluations
/// without a new lowest validation loss; text data is evaluated every <see cref="EvalEvery"/> steps (default: once per epoch).
/// </summary>
public sealed record TrainingTarget(string Metric, double Value, int MaxEpochs, int? Patience, int? EvalEvery)
{
    public const string Accuracy = "accuracy", Loss = "loss";

    public bool IsReached(double metric) => Metric == Accuracy ? metric >= Value : metric <= Value;
}

/// <summary>A workload's <c>data</c>, <c>target</c> and <c>seeds</c>: a workload that has them is trained to the target, not timed.</summary>
public sealed record TrainingSpec(DataSpec Data, TrainingTarget Target, IReadOnlyList<ulong> Seeds)
{
    /// <summary>The workload's training fields, or null for a workload that gives none; a half-given or bad one is one line naming the field.</summary>
    public static TrainingSpec? Parse(JsonFields f, ModelConfig model, string source)
    {
        if (!f.Has("data") && !f.Has("target"))
        {
            if (f.Has("seeds"))
                throw new KernelLabException($"{source}: 'seeds' is given, but the workload has no 'data' and 'target' to train to (a timed workload takes the suite's 'seed')");
            return null;
        }
        if (!f.Has("data") || !f.Has("target"))
            throw new KernelLabException($"{source}: '{(f.Has("data") ? "target" : "data")}' is missing: a workload trained to a target gives both 'data' and 'target'");
        var data = DataSpec.Parse(f.Element("data"), $"{source}: 'data'");
        DataSpec.CheckModel(data, model, source);
        var target = ParseTarget(f.Element("target"), data, $"{source}: 'target'");
        ulong[] seeds = f.Has("seeds") ? [.. ParseSeeds(f.Element("seeds"), $"{source}: 'seeds'")] : [1];
        return new TrainingSpec(data, target, seeds);
    }

    private static TrainingTarget ParseTarget(JsonElement json, DataSpec data, string source)
    {
        var f = new JsonFields(json, source);
        string metric = f.String("metric");
        if (metric is not (TrainingTarget.Accuracy or TrainingTarget.Loss))
            throw new KernelLabException($"{source}: 'metric' is \"{metric}\", expected \"{TrainingTarget.Accuracy}\" (test accuracy, image data) or \"{TrainingTarget.Loss}\" (validation loss)");
        if (metric == TrainingTarget.Accuracy && data is TextSpec)
            throw new KernelLabException($"{source}: 'metric' is \"accuracy\", but text data has no test set: use \"loss\" (validation nats per token)");
        double value = f.Number("value");
        bool inRange = metric == TrainingTarget.Accuracy ? value is > 0 and <= 1 : value > 0 && double.IsFinite(value);
        if (!inRange)
            throw new KernelLabException($"{source}: 'value' is {value}, expected {(metric == TrainingTarget.Accuracy ? "an accuracy in (0, 1]" : "a loss > 0")}");
        int maxEpochs = f.Int("max_epochs");
        int? patience = null;
        if (f.Has("early_stopping"))
            patience = new JsonFields(f.Element("early_stopping"), $"{source}: 'early_stopping'").Int("patience");
        int? evalEvery = f.Has("eval_every") ? f.Int("eval_every") : null;
        if (evalEvery is not null && data is not TextSpec)
            throw new KernelLabException($"{source}: 'eval_every' is given, but image data is evaluated once per epoch");
        return new TrainingTarget(metric, value, maxEpochs, patience, evalEvery);
    }

    private static List<ulong> ParseSeeds(JsonElement json, string source)
    {
        if (json.ValueKind != JsonValueKind.Array || json.GetArrayLength() == 0)
            throw new KernelLabException($"{source}: expected a non-empty array of integers >= 0");
        var seeds = new List<ulong>();
        foreach (var e in json.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetUInt64(out ulong seed))
                throw new KernelLabException($"{source}: {e.GetRawText()} is not an integer >= 0");
            if (seeds.Contains(seed))
                throw new KernelLabException($"{source}: seed {seed} is listed twice");
            seeds.Add(seed);
        }
        return seeds;
    }
}
