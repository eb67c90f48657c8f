using System.Globalization;
using KernelLab.Results;

namespace KernelLab.Suites;

/// <summary>
/// Which <see cref="Shard"/> a run takes: <c>--shard I/N</c>, else a Slurm array task's own place in its array. Every
/// problem is one line (null and the error), for the command line to report as a malformed argument.
/// </summary>
public static class Sharding
{
    /// <summary><c>I/N</c> with 0 &lt;= I &lt; N.</summary>
    public static Shard? Parse(string text, out string? error)
    {
        error = null;
        string[] parts = text.Split('/');
        if (parts.Length == 2 && Integer(parts[0]) is { } index && Integer(parts[1]) is { } count)
        {
            if (count >= 1 && index < count)
                return new Shard(index, count);
            error = $"--shard {text}: shard {index} of {count} does not exist: expected I/N with N >= 1 and 0 <= I < N";
            return null;
        }
        error = $"--shard '{text}': expected I/N, shard I (from 0) of N, e.g. 0/4";
        return null;
    }

    public const string TaskId = "SLURM_ARRAY_TASK_ID", TaskCount = "SLURM_ARRAY_TASK_COUNT", TaskMin = "SLURM_ARRAY_TASK_MIN", TaskStep = "SLURM_ARRAY_TASK_STEP";

    /// <summary>
    /// The shard of a Slurm array task: its place among the array's SLURM_ARRAY_TASK_COUNT tasks, counted from
    /// SLURM_ARRAY_TASK_MIN in steps of SLURM_ARRAY_TASK_STEP (so <c>--array=1-4</c> and <c>--array=0-6:2</c> give shards 0 to 3);
    /// null, with no error, outside an array job.
    /// </summary>
    public static Shard? FromSlurm(Func<string, string?> environment, out string? error)
    {
        error = null;
        string? id = environment(TaskId);
        if (string.IsNullOrEmpty(id))
            return null;
        string? countText = environment(TaskCount);
        if (string.IsNullOrEmpty(countText))
        {
            error = $"{TaskId} is {id} but {TaskCount} is not set: pass --shard I/N";
            return null;
        }
        string? minText = environment(TaskMin), stepText = environment(TaskStep);
        if (Integer(id) is not { } task || Integer(countText) is not { } count || count < 1
            || (string.IsNullOrEmpty(minText) ? 0 : Integer(minText)) is not { } min
            || (string.IsNullOrEmpty(stepText) ? 1 : Integer(stepText)) is not { } step || step < 1)
        {
            error = $"{TaskId}={id}, {TaskCount}={countText}, {TaskMin}={minText}, {TaskStep}={stepText}: expected integers (count and step >= 1)";
            return null;
        }
        int offset = task - min;
        if (offset < 0 || offset % step != 0 || offset / step >= count)
        {
            error = $"{TaskId} {task} is not one of {count} array tasks from {min} in steps of {step}: submit the array as a range " +
                $"(--array=0-{count - 1}) or pass --shard I/N";
            return null;
        }
        return new Shard(offset / step, count);
    }

    private static int? Integer(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;
}
