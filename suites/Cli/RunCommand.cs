using System.CommandLine;
using System.Globalization;
using KernelLab.Backends;
using KernelLab.Suites;
using KernelLab.Results;

namespace KernelLab.Cli;

/// <summary><c>kernellab run SUITE.json [--backends a,b] [--shard I/N] [--out DIR]</c>: a suite on its backends, or one shard of its runs, into DIR/results.json.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter stdout, Interrupts interrupts)
    {
        var suitePath = new Argument<string>("suite") { Description = "suite file (shared/spec/SUITES.md), or the name of one in suites/ (smoke, standard, large)" };
        var backends = new Option<string?>("--backends") { Description = "comma-separated backends to run instead of the suite's list" };
        var shard = new Option<Shard?>("--shard")
        {
            Description = "run shard I of N (from 0) of the suite's runs, numbered in a fixed order (default: a Slurm array task's place " +
                $"in its array, from {Sharding.TaskId} and {Sharding.TaskCount}); merge the shards' folders with 'kernellab merge'",
            CustomParser = r => Sharding.Parse(r.Tokens.Single().Value, out string? error) ?? Invalid(r, error!),
        };
        var workloads = new Option<string?>("--workloads") { Description = "comma-separated workloads of the suite to run (default: all)" };
        var checkpointEvery = new Option<int?>("--checkpoint-every")
        {
            Description = "workloads trained to a target: write a checkpoint (parameters, optimizer state, data position) every N steps, to OUT/checkpoints",
        };
        var resume = new Option<bool>("--resume")
        {
            Description = "go on with a run in OUT that stopped: keep the runs its results.json holds, and resume training seeds from their checkpoints",
        };
        var output = new Option<string?>("--out") { Description = "output folder (default: results/<suite name>, a shard's results/<suite name>/shards/<I>)" };
        var command = new Command("run", "run a suite: correctness against the reference, then timed training steps; writes results.json after every run")
        {
            suitePath, backends, workloads, shard, checkpointEvery, resume, output,
        };
        command.SetAction(r =>
        {
            var suite = Suite.Load(SuiteFiles.Resolve(r.GetValue(suitePath)!));
            if (r.GetValue(workloads) is { } only)
                suite = suite.Only(Options.List(only), "--workloads");
            if (r.GetValue(checkpointEvery) is <= 0)
                throw new KernelLabException($"--checkpoint-every: {r.GetValue(checkpointEvery)} is not a positive number of steps");
            IReadOnlyList<string> names = r.GetValue(backends) is { } list
                ? Options.List(list)
                : suite.Backends;
            if (names.Count == 0)
                throw new KernelLabException("--backends: no backend named");
            foreach (string name in names)
                Suite.Known(name, "--backends");
            string? slurmError = null;
            var share = r.GetValue(shard) ?? Sharding.FromSlurm(Environment.GetEnvironmentVariable, out slurmError);
            if (slurmError is not null)
                throw new KernelLabException(slurmError);
            string outDir = r.GetValue(output)
                ?? (share is null ? Path.Combine("results", suite.Name) : Path.Combine("results", suite.Name, "shards", share.Index.ToString(CultureInfo.InvariantCulture)));

            var observer = Terminal.IsInteractive(stdout) ? (ISuiteObserver)new LiveTableObserver() : new PlainObserver(stdout);
            var runner = new SuiteRunner(suite, names, outDir, observer)
            {
                Shard = share, CheckpointEvery = r.GetValue(checkpointEvery), Resume = r.GetValue(resume),
            };
            var stop = interrupts.StopToken();
            ResultsDocument document;
            try
            {
                document = observer is LiveTableObserver live ? live.Show(() => runner.Run(stop)) : runner.Run(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                int finished = ResultsFile.Load(runner.ResultsPath).Runs.Count;
                stdout.WriteLine($"interrupted by {interrupts.Received}: stopped after the current step; {runner.ResultsPath} holds the {finished} finished run{(finished == 1 ? "" : "s")}");
                return interrupts.ExitCode;
            }
            stdout.WriteLine($"wrote {runner.ResultsPath} ({document.Runs.Count(x => x.IsOk)} ok, " +
                $"{document.Runs.Count(x => x.Status == RunStatus.Failed)} failed, {document.Runs.Count(x => x.Status == RunStatus.Unavailable)} unavailable, " +
                $"{document.Runs.Count(x => x.Status == RunStatus.Skipped)} skipped)");
            return document.Runs.Any(x => x.Status == RunStatus.Failed) ? 1 : 0;
        });
        return command;
    }

    private static Shard? Invalid(System.CommandLine.Parsing.ArgumentResult result, string error)
    {
        result.AddError(error);
        return null;
    }
}

/// <summary>Where the suite files are: a path as given, or a name of suites/ (beside the binary, where the build copies them).</summary>
internal static class SuiteFiles
{
    public static string Resolve(string pathOrName)
    {
        if (File.Exists(pathOrName) || pathOrName.Contains('/') || pathOrName.Contains('\\') || pathOrName.EndsWith(".json", StringComparison.Ordinal))
            return pathOrName;
        string bundled = Path.Combine(AppContext.BaseDirectory, "suites", pathOrName + ".json");
        return File.Exists(bundled) ? bundled : pathOrName;
    }
}
