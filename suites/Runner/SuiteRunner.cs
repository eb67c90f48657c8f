using KernelLab.Backends;
using KernelLab.Backends.Reference;
using KernelLab.Models;
using KernelLab.Models.Networks;
using KernelLab.Models.Training;
using KernelLab.Results;

namespace KernelLab.Suites;

/// <summary>What a suite run reports while it goes: the terminal's progress and live table, or plain lines.</summary>
public interface ISuiteObserver
{
    void Started(ResultsDocument document, IReadOnlyList<(Workload Workload, string Backend)> plan);

    /// <summary><paramref name="phase"/> is correctness, warm-up or measuring; <paramref name="progress"/> runs from 0 to 1 while measuring.</summary>
    void Progress(Workload workload, string backend, string phase, double progress);

    void Finished(Workload workload, RunRecord run);

    /// <summary>A workload trained to a target was evaluated (once per epoch, or every eval_every steps).</summary>
    void Evaluated(Workload workload, string backend, TrainingEvaluation evaluation)
    {
    }
}

/// <summary>
/// Runs a suite: for each workload and backend, seeded parameters and a seeded batch; the gradients against the
/// reference backend's first (correct before fast); then warm-up steps, and timed training steps (forward,
/// backward, optimizer) until both min_steps and min_seconds are reached. results.json is rewritten after
/// every run, so a crash or Ctrl-C loses nothing that had finished.
/// </summary>
public sealed class SuiteRunner(Suite suite, IReadOnlyList<string> backends, string outDirectory, ISuiteObserver observer)
{
    /// <summary>The backend every other is checked against, and the report's default baseline.</summary>
    public static string ReferenceBackend => Backends.Reference.ReferenceBackend.Entry.Name;

    /// <summary>Measures the machine's peaks before the runs (off in quick tests).</summary>
    public bool ProbePeaks { get; init; } = true;

    public string ResultsPath => Path.Combine(outDirectory, ResultsFile.FileName);

    /// <summary>The share of the suite's runs to run (<c>--shard I/N</c>); null runs them all.</summary>
    public Shard? Shard { get; init; }

    /// <summary>Workloads trained to a target write a checkpoint every this many steps (<c>--checkpoint-every</c>); null writes none.</summary>
    public int? CheckpointEvery { get; init; }

    /// <summary>
    /// Goes on with a run that stopped (<c>--resume</c>): the runs that the folder's results file holds as finished are kept, not
    /// run again, and a training seed with a checkpoint goes on from it.
    /// </summary>
    public bool Resume { get; init; }

    public ResultsDocument Run(CancellationToken cancel = default)
    {
        foreach (string backend in backends)
            Suite.Known(backend, "--backends");
        suite.CheckThreads(backends, $"--backends ({suite.Source})");
        Measurement.RefuseDebugBuild();

        OutputFolder.Create(outDirectory);
        using var folderLock = FolderLock.Acquire(outDirectory, $"kernellab run {suite.Source}");
        var kept = Resume && File.Exists(ResultsPath) ? ResultsFile.Load(ResultsPath).Runs.Where(r => r.Status != RunStatus.Failed).ToList() : [];
        string started = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ");
        var plan = suite.Runs(backends);
        var planned = plan.Select(r => r.Planned).ToList();
        var mine = plan.ToList();
        if (Shard is { } shard)
        {
            int[] shardOf = Shard.Assign(planned, shard.Count);
            mine = plan.Where(r => shardOf[r.Position] == shard.Index).ToList();
        }
        var document = new ResultsDocument
        {
            Schema = ResultsDocument.SchemaName,
            Suite = suite.Name,
            Started = started,
            Machine = MachineProbe.Describe(ProbePeaks),
            Settings = new RunSettings
            {
                WarmupSteps = suite.WarmupSteps, WarmupSeconds = suite.WarmupSeconds, MinSteps = suite.MinSteps, MinSeconds = suite.MinSeconds,
                MaxSteps = suite.MaxSteps, Seed = suite.Seed, Optimizer = suite.OptimizerJson, SuiteFile = suite.Source, SuiteSha256 = suite.Sha256,
            },
            Runs = [],
            Plan = planned,
            Shard = Shard,
        };
        // A folder being run always holds a valid results file, if with no runs yet: a shard killed early still leaves its
        // plan and machine, for merge to name what it lacks.
        ResultsFile.Write(ResultsPath, document);
        observer.Started(document, mine.Select(r => (r.Workload, r.Backend)).ToList());

        var runs = new List<RunRecord>();
        (string Workload, BatchShape Shape, ulong Seed)? referenceOf = null;
        ReferenceGradients? reference = null;
        foreach (var next in mine)
        {
            cancel.ThrowIfCancellationRequested();
            // A run the folder's results already hold (--resume) is kept as it is, and written back with the new ones.
            if (kept.FirstOrDefault(r => r.IsRunOf(next.Workload.Name, next.Backend, next.Workload.Batch, next.Workload.Threads)) is not { } run)
            {
                // The plan lists a workload's runs together, so one workload's reference gradients are held at a time; a swept
                // batch is another workload of the same name, with gradients of its own (a swept thread count shares them).
                if (referenceOf != (next.Workload.Name, next.Workload.Shape, next.Seed))
                    (referenceOf, reference) = ((next.Workload.Name, next.Workload.Shape, next.Seed), null);
                run = RunOne(next, () => reference ??= ReferenceGradients.Compute(next.Workload, next.Seed), document.Machine, cancel);
            }
            runs.Add(run);
            document = document with { Runs = runs.ToList(), Finished = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ") };
            ResultsFile.Write(ResultsPath, document);
            observer.Finished(next.Workload, run);
        }
        return document;
    }

    private RunRecord RunOne(SuiteRun suiteRun, Func<ReferenceGradients> reference, MachineInfo machine, CancellationToken cancel)
    {
        var (workload, backendName) = (suiteRun.Workload, suiteRun.Backend);
        var record = new RunRecord
        {
            Workload = workload.Name, Backend = backendName, Status = RunStatus.Ok,
            Family = workload.Model.Family, Batch = workload.Batch, Seq = workload.Seq, Seed = suiteRun.Seed, Host = machine.Host, Threads = workload.Threads,
        };
        var entry = BackendRegistry.Find(backendName);
        var availability = entry.Probe();
        if (!availability.IsAvailable)
            return record with { Status = RunStatus.Unavailable, Reason = availability.Reason };

        try
        {
            using var backend = workload.Threads is { } threads ? entry.CreateOnThreads!(threads) : entry.Create();
            record = record with
            {
                Device = backend.Info.Name, DeviceId = backend.Info.Properties.GetValueOrDefault("device"), DeviceKind = backend.Info.Kind,
                Precision = backend.Precision.ToString(),
            };
            if (suite.SkipReason(backendName, backend.Info.Kind) is { } skip)
                return record with { Status = RunStatus.Skipped, Reason = $"the suite skips {backendName} on a {backend.Info.Kind} device ({backend.Info.Name}): {skip}" };
            using (var network = suite.CreateSeededNetwork(backend, workload, suiteRun.Seed))
            {
                observer.Progress(workload, backendName, "correctness", 0);
                var correctness = reference().CompareWith(network);
                record = record with { Correctness = correctness };
                if (correctness.Passed != true)
                    return record with { Status = RunStatus.Failed, Error = $"gradients differ from the reference: {correctness.Note}" };
                if (workload.Training is null)
                    return record with { Throughput = Measure(backend, network, workload, backendName, machine, cancel) };
            }
            // Correct before fast, and before long: the gradients on the seeded batch are checked first, then the workload is trained.
            var trainer = new TargetTrainer(suite, workload, outDirectory, observer) { CheckpointEvery = CheckpointEvery, Resume = Resume };
            return record with { Training = trainer.Run(backend, cancel) };
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            // A KernelLabException is already the one line a user reads (a missing data set, a config too large); anything else
            // is named by its type, so that an internal error is not mistaken for bad input.
            string message = e.Message.ReplaceLineEndings(" ");
            return record with { Status = RunStatus.Failed, Error = e is KernelLabException ? message : $"{e.GetType().Name}: {message}" };
        }
    }

    private Throughput Measure(Backend backend, Network network, Workload workload, string backendName, MachineInfo machine, CancellationToken cancel)
    {
        using var optimizer = suite.CreateOptimizer(backend, network);
        var times = suite.Measurement.Run(backend, () => optimizer.Step(network), (phase, progress) => observer.Progress(workload, backendName, phase, progress), cancel);

        double median = times.MedianMs;
        double flop = FlopCount.TrainingStep(workload.Model, workload.Shape);
        double gflops = flop / (median / 1e3) / 1e9;
        bool onCpu = backend.Info.Kind == "cpu";
        return new Throughput
        {
            StepMsMedian = median,
            StepMsMin = times.MinMs,
            StepMsMax = times.MaxMs,
            Steps = times.Count,
            SamplesPerSecond = workload.Batch / (median / 1e3),
            Gflops = gflops,
            StepMsP10 = times.P10Ms,
            StepMsP90 = times.P90Ms,
            TokensPerSecond = workload.TokensPerBatch is { } tokens ? tokens / (median / 1e3) : null,
            FlopPerStep = flop,
            PeakShare = onCpu && machine.PeakGflops is > 0 ? gflops / machine.PeakGflops : null,
            WarmupSteps = times.WarmupSteps,
            SamplesMs = times.SamplesMs,
        };
    }

    /// <summary>The reference backend's loss and gradients of a workload, computed once and compared with every backend's.</summary>
    private sealed class ReferenceGradients
    {
        private readonly double _loss;
        private readonly Dictionary<string, double[]> _grads;

        private ReferenceGradients(double loss, Dictionary<string, double[]> grads)
        {
            _loss = loss;
            _grads = grads;
        }

        public static ReferenceGradients Compute(Workload workload, ulong seed)
        {
            using var backend = new ReferenceBackend();
            using var network = Network.CreateSeeded(backend, workload.Model, workload.Shape, seed);
            double loss = network.ComputeGradients();
            return new ReferenceGradients(loss, Gradients(network));
        }

        public Correctness CompareWith(Network network)
        {
            double tolerance = TensorComparison.ToleranceFor(network.Backend.Precision);
            double loss = network.ComputeGradients();
            var grads = Gradients(network);
            var results = network.CompareGradients(loss, grads, _loss, _grads, tolerance);
            var worst = results.MaxBy(r => r.MaxError)!;
            bool passed = results.All(r => r.Passed);
            return new Correctness
            {
                Passed = passed,
                MaxErr = double.IsFinite(worst.MaxError) ? worst.MaxError : null,
                Reference = SuiteRunner.ReferenceBackend,
                Tolerance = tolerance,
                Worst = worst.Name,
                Note = passed ? null : string.Join("; ", results.Where(r => !r.Passed).Take(3).Select(r => r.ToString())),
            };
        }

        private static Dictionary<string, double[]> Gradients(Network network) =>
            network.Parameters.All.ToDictionary(p => p.Name, p =>
            {
                var values = new double[p.Length];
                network.Backend.CopyOut(p.Grad, values);
                return values;
            });
    }
}
