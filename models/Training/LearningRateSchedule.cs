using System.Globalization;
using System.Text.Json;
using KernelLab.Backends;

namespace KernelLab.Models.Training;

/// <summary>
/// A learning-rate schedule of torch.optim.lr_scheduler (shared/spec/MODELS.md, "Training blocks"), as host-side arithmetic:
/// the optimizer's <c>"schedule"</c> object. <see cref="StepwiseSchedule"/>s are stepped once per optimizer step and give
/// the rate of each step from the step's number alone, so a run resumed at step N needs nothing else;
/// <see cref="PlateauSchedule"/> is stepped once per evaluation, with the validation loss.
/// </summary>
public abstract record LearningRateSchedule
{
    /// <summary>The optimizer's <c>"schedule"</c>, or null where it gives none; a bad one is one line naming the field.</summary>
    public static LearningRateSchedule? Parse(JsonElement optimizer, string source)
    {
        var optimizerFields = new JsonFields(optimizer, source);
        if (!optimizerFields.Has("schedule"))
            return null;
        string where = $"{source}: 'schedule'";
        var f = new JsonFields(optimizerFields.Element("schedule"), where);
        string name = f.String("name");
        LearningRateSchedule schedule;
        switch (name)
        {
            case "step":
                f.AllowOnly("name", "step_size", "gamma");
                schedule = new StepSchedule(f.Int("step_size"), Bounded(f, "gamma", where));
                break;
            case "cosine":
                f.AllowOnly("name", "t_max", "eta_min");
                schedule = new CosineSchedule(f.Int("t_max"), EtaMin(f, where));
                break;
            case "warmup_cosine":
                f.AllowOnly("name", "warmup", "t_max", "eta_min");
                schedule = new WarmupCosineSchedule(f.Int("warmup"), f.Int("t_max"), EtaMin(f, where));
                break;
            case "plateau":
                f.AllowOnly("name", "factor", "patience");
                var patience = f.Element("patience");
                schedule = new PlateauSchedule(Bounded(f, "factor", where),
                    patience.ValueKind == JsonValueKind.Number && patience.TryGetInt32(out int p) && p >= 0
                        ? p : throw new KernelLabException($"{where}: 'patience' is {patience.GetRawText()}, expected an integer >= 0"));
                break;
            default:
                throw new KernelLabException($"{where}: unknown schedule \"{name}\": expected one of step, cosine, warmup_cosine, plateau");
        }
        return schedule;
    }

    /// <summary>Parses <c>--schedule</c>'s JSON text as a suite's optimizer object would hold it.</summary>
    public static LearningRateSchedule ParseText(string json, string source)
    {
        using var doc = JsonInput.Parse($"{{\"schedule\": {json}}}", source);
        return Parse(doc.RootElement, source)!;
    }

    /// <summary>A number in (0, 1): gamma and factor, which must lower the rate.</summary>
    private static double Bounded(JsonFields f, string name, string where)
    {
        double v = f.Number(name);
        return v is > 0 and < 1 ? v : throw new KernelLabException($"{where}: '{name}' is {V(v)}, expected a number in (0, 1)");
    }

    private static double EtaMin(JsonFields f, string where)
    {
        double v = f.Has("eta_min") ? f.Number("eta_min") : 0;
        return v >= 0 && double.IsFinite(v) ? v : throw new KernelLabException($"{where}: 'eta_min' is {V(v)}, expected a finite number >= 0");
    }

    private static string V(double v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A schedule stepped once per optimizer step: the rate of each step follows from its number.</summary>
public abstract record StepwiseSchedule : LearningRateSchedule
{
    /// <summary>The rate of optimizer step <paramref name="step"/> (0 for the first) from the optimizer's own lr.</summary>
    public abstract double At(long step, double baseLr);
}

/// <summary>StepLR: the rate times gamma every step_size steps (multiplied step by step, as PyTorch does).</summary>
public sealed record StepSchedule(int StepSize, double Gamma) : StepwiseSchedule
{
    public override double At(long step, double baseLr)
    {
        double lr = baseLr;
        for (long decays = step / StepSize; decays > 0; decays--)
            lr *= Gamma;
        return lr;
    }
}

/// <summary>CosineAnnealingLR in its closed form: eta_min + (lr - eta_min) (1 + cos(pi t / t_max)) / 2.</summary>
public sealed record CosineSchedule(int TMax, double EtaMin) : StepwiseSchedule
{
    public override double At(long step, double baseLr) => Rate(step, baseLr, TMax, EtaMin);

    public static double Rate(long step, double baseLr, int tMax, double etaMin) => etaMin + (baseLr - etaMin) * (1 + Math.Cos(Math.PI * step / tMax)) / 2;
}

/// <summary>SequentialLR of LinearLR (from 0.01 of the rate to all of it over <c>warmup</c> steps) then <see cref="CosineSchedule"/> from its start.</summary>
public sealed record WarmupCosineSchedule(int Warmup, int TMax, double EtaMin) : StepwiseSchedule
{
    public const double StartFactor = 0.01;

    public override double At(long step, double baseLr) => step < Warmup
        ? baseLr * (StartFactor + (1 - StartFactor) * step / Warmup)
        : CosineSchedule.Rate(step - Warmup, baseLr, TMax, EtaMin);
}

/// <summary>
/// ReduceLROnPlateau on the validation loss with PyTorch's defaults besides factor and patience (mode min, threshold 1e-4
/// relative, cooldown 0, min_lr 0, eps 1e-8): after more than <c>patience</c> evaluations in a row without a loss below
/// best * (1 - 1e-4), the rate is multiplied by factor.
/// </summary>
public sealed record PlateauSchedule(double Factor, int Patience) : LearningRateSchedule
{
    public const double Threshold = 1e-4, Eps = 1e-8;
}
