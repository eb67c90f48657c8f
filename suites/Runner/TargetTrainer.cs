using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Data;
using KernelLab.Models.Networks;
using KernelLab.Models.Training;
using KernelLab.Results;

namespace KernelLab.Suites;

/// <summary>One evaluation of a seed's training, as the terminal and the log show it.</summary>
public sealed record TrainingEvaluation(ulong Seed, int Epoch, long Step, double TrainingLoss, string Metric, double Value, double ValidationLoss, double ElapsedSeconds);

/// <summary>
/// Trains a workload with <see cref="Workload.Training"/> to its target on one backend, seed by seed (MLPerf's "time to
/// quality"): the clock starts as the data is first read, training batches come in each epoch's seeded order
/// (models/Data/README.md), the network is evaluated once per epoch (text: every <c>eval_every</c> steps), and training stops
/// at the target, at early stopping, after <c>max_epochs</c>, or when the loss is no longer finite. Time spent writing
/// checkpoints is not counted. Each seed's final parameters are written to <c>params/</c> in the run's folder.
///
/// With <see cref="CheckpointEvery"/> the whole state (parameters, optimizer state, data position, curves, clock) is written
/// every that many steps and when a seed finishes, to <c>checkpoints/</c>; with <see cref="Resume"/> a seed whose checkpoint
/// is there goes on from it, bit for bit as if it had not stopped, and a seed that had finished is not trained again.
/// </summary>
public sealed class TargetTrainer(Suite suite, Workload workload, string outDirectory, ISuiteObserver observer)
{
    public int? CheckpointEvery { get; init; }

    public bool Resume { get; init; }

    private TrainingSpec Spec => workload.Training ?? throw new InvalidOperationException($"workload '{workload.Name}' is not trained to a target");

    /// <summary>The file stem of a seed's outputs: <c>WORKLOAD-BACKEND-seedN</c> (a swept batch or thread count in the workload's part).</summary>
    public static string Stem(Workload workload, string backend, ulong seed) =>
        $"{workload.Label.Replace(' ', '-')}-{backend}-seed{seed.ToString(CultureInfo.InvariantCulture)}";

    public static string ParamsPath(Workload workload, string backend, ulong seed) => Path.Combine("params", Stem(workload, backend, seed) + ".safetensors");

    public static string CheckpointPath(Workload workload, string backend, ulong seed) => Path.Combine("checkpoints", Stem(workload, backend, seed) + ".safetensors");

    public TrainingResult Run(Backend backend, CancellationToken cancel)
    {
        var seeds = new List<SeedTraining>();
        string? data = null;
        foreach (ulong seed in Spec.Seeds)
        {
            var (result, described) = RunSeed(backend, seed, cancel);
            seeds.Add(result);
            data ??= described;
        }
        return new TrainingResult { Metric = Spec.Target.Metric, Target = Spec.Target.Value, Data = data, Seeds = seeds, Summary = TrainingSummary.Of(seeds) };
    }

    private (SeedTraining Result, string Data) RunSeed(Backend backend, ulong seed, CancellationToken cancel)
    {
        var target = Spec.Target;
        using var network = Network.Create(backend, workload.Model, workload.Shape, suite.Optimizer);
        network.Initialize(seed);
        using var optimizer = suite.CreateOptimizer(backend, network);
        string checkpoint = Path.Combine(outDirectory, CheckpointPath(workload, backend.Name, seed));
        var state = new SeedState();
        if (Resume && File.Exists(checkpoint))
            state = SeedState.FromMetadata(Checkpoint.Read(checkpoint, backend, network.Parameters, optimizer), checkpoint);

        double before = state.ElapsedSeconds; // the clock's time in the processes that ran this seed before
        var clock = Stopwatch.StartNew(); // the first touch of the data: reading the files counts
        double Elapsed() => before + clock.Elapsed.TotalSeconds;
        var trainingData = TrainingData.Load(Spec.Data, workload.Model, workload.Shape);
        var batch = Batch.Allocate(workload.Model, workload.Shape);
        int perEpoch = trainingData.BatchesPerEpoch;
        int evalEvery = target.EvalEvery ?? perEpoch;
        int logEvery = Math.Max(1, perEpoch / 50);
        bool byEpoch = trainingData.HasTest; // image data is evaluated after each epoch, text every eval_every steps

        void Save()
        {
            if (CheckpointEvery is null)
                return;
            clock.Stop();
            state.ElapsedSeconds = Elapsed();
            Directory.CreateDirectory(Path.GetDirectoryName(checkpoint)!);
            Checkpoint.Write(checkpoint, network.Parameters, optimizer, state.ToMetadata());
            clock.Start();
        }

        // Evaluates, records the curves, and sets state.Stopped where the target is reached or early stopping ends training.
        void Evaluate()
        {
            var (validationLoss, _) = Score(network, trainingData, batch, Split.Validation);
            double metric = target.Metric == TrainingTarget.Accuracy ? Score(network, trainingData, batch, Split.Test).Accuracy : validationLoss;
            state.Validation.Add(state.Step, metric);
            state.ValidationLoss.Add(state.Step, validationLoss);
            state.FinalMetric = metric;
            optimizer.Evaluated(validationLoss); // a plateau schedule's step
            if (validationLoss < (state.BestValidationLoss ?? double.PositiveInfinity))
                (state.BestValidationLoss, state.SinceBest) = (validationLoss, 0);
            else
                state.SinceBest++;
            if (target.IsReached(metric))
                (state.Stopped, state.TimeToTargetS) = ("target", Elapsed());
            else if (target.Patience is { } patience && state.SinceBest >= patience)
                state.Stopped = "early_stopping";
            observer.Evaluated(workload, backend.Name, new TrainingEvaluation(seed, state.StartedEpochs, state.Step,
                state.TrainingLoss.Values.Count > 0 ? state.TrainingLoss.Values[^1] : double.NaN, target.Metric, metric, validationLoss, Elapsed()));
        }

        while (state.Stopped is null && state.Epoch < target.MaxEpochs)
        {
            string phase = $"seed {seed} epoch {state.Epoch + 1}/{target.MaxEpochs}"; // once an epoch: a step allocates nothing
            while (state.Stopped is null && state.Index < perEpoch)
            {
                cancel.ThrowIfCancellationRequested();
                trainingData.FillTrainingBatch(seed, state.Epoch, state.Index, batch);
                network.LoadBatch(batch);
                double loss = optimizer.Step(network);
                state.Index++;
                state.Step++;
                if (!double.IsFinite(loss))
                {
                    state.Stopped = "diverged"; // the curve keeps the finite losses before it: JSON has no NaN
                    break;
                }
                state.PendingLossSum += loss;
                state.PendingLossCount++;
                if (state.Step % logEvery == 0)
                    state.FlushLoss();
                if (!byEpoch && state.Step % evalEvery == 0)
                    Evaluate();
                observer.Progress(workload, backend.Name, phase, (state.Epoch + (double)state.Index / perEpoch) / target.MaxEpochs);
                if (CheckpointEvery is { } every && state.Step % every == 0 && state.Stopped is null)
                    Save();
            }
            if (state.Stopped is not null)
                break;
            (state.Epoch, state.Index) = (state.Epoch + 1, 0);
            if (byEpoch || state.Epoch == target.MaxEpochs && state.Step % evalEvery != 0)
                Evaluate();
        }
        state.FlushLoss();
        state.Stopped ??= "max_epochs";
        string paramsPath = ParamsPath(workload, backend.Name, seed);
        Directory.CreateDirectory(Path.Combine(outDirectory, "params"));
        network.Parameters.ToSafetensors().Write(Path.Combine(outDirectory, paramsPath));
        Save();
        return (new SeedTraining
        {
            Seed = seed, TimeToTargetS = state.TimeToTargetS, Epochs = state.StartedEpochs, Steps = state.Step,
            FinalMetric = state.FinalMetric, Stopped = state.Stopped, Params = paramsPath,
            Curves = new TrainingCurves { TrainingLoss = state.TrainingLoss.ToCurve(), Validation = state.Validation.ToCurve(), ValidationLoss = state.ValidationLoss.ToCurve() },
        }, trainingData.Describe());
    }

    /// <summary>The mean loss per row and the accuracy over a split, in order, each example counted once.</summary>
    private static (double Loss, double Accuracy) Score(Network network, TrainingData data, Batch batch, Split split)
    {
        double lossSum = 0;
        long correct = 0, rows = 0;
        for (int i = 0; i < data.EvaluationBatches(split); i++)
        {
            int examples = data.FillEvaluationBatch(split, i, batch);
            network.LoadBatch(batch);
            var score = network.Score(examples);
            (lossSum, correct, rows) = (lossSum + score.LossSum, correct + score.Correct, rows + score.Rows);
        }
        return (lossSum / rows, (double)correct / rows);
    }

    /// <summary>A curve being recorded: steps and values, the same length.</summary>
    private sealed class CurveBuilder
    {
        public List<long> Steps { get; init; } = [];

        public List<double> Values { get; init; } = [];

        public void Add(long step, double value)
        {
            Steps.Add(step);
            Values.Add(value);
        }

        public Curve ToCurve() => new() { Steps = [.. Steps], Values = [.. Values] };
    }

    /// <summary>Where a seed's training is: what a checkpoint saves as its metadata ("state", JSON) besides the tensors.</summary>
    private sealed class SeedState
    {
        private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

        public int Epoch { get; set; }

        /// <summary>The next batch of the epoch.</summary>
        public int Index { get; set; }

        public long Step { get; set; }

        /// <summary>Epochs begun: the finished ones, and the one under way.</summary>
        [JsonIgnore]
        public int StartedEpochs => Epoch + (Index > 0 ? 1 : 0);

        /// <summary>Training losses since the last point of the curve.</summary>
        public double PendingLossSum { get; set; }

        public int PendingLossCount { get; set; }

        public double? BestValidationLoss { get; set; }

        public int SinceBest { get; set; }

        public double? FinalMetric { get; set; }

        public double? TimeToTargetS { get; set; }

        public string? Stopped { get; set; }

        /// <summary>The clock's time when the checkpoint was written.</summary>
        public double ElapsedSeconds { get; set; }

        public CurveBuilder TrainingLoss { get; init; } = new();

        public CurveBuilder Validation { get; init; } = new();

        public CurveBuilder ValidationLoss { get; init; } = new();

        /// <summary>Adds the mean of the pending losses to the training curve.</summary>
        public void FlushLoss()
        {
            if (PendingLossCount == 0)
                return;
            TrainingLoss.Add(Step, PendingLossSum / PendingLossCount);
            (PendingLossSum, PendingLossCount) = (0, 0);
        }

        public Dictionary<string, string> ToMetadata() => new() { ["state"] = JsonSerializer.Serialize(this, Json) };

        public static SeedState FromMetadata(IReadOnlyDictionary<string, string> metadata, string path)
        {
            try
            {
                return metadata.TryGetValue("state", out string? json) ? JsonSerializer.Deserialize<SeedState>(json, Json)!
                    : throw new KernelLabException($"{path}: metadata 'state' is missing: not a checkpoint of a run trained to a target");
            }
            catch (JsonException e)
            {
                throw new KernelLabException($"{path}: metadata 'state' is not a training state: {e.Message}");
            }
        }
    }
}
