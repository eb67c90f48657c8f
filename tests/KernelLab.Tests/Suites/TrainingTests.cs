using System.Text.Json;
using System.Text.Json.Nodes;
using KernelLab.Backends;
using KernelLab.Models.Safetensors;
using KernelLab.Models.Training;
using KernelLab.Results;
using KernelLab.Suites;
using KernelLab.Tests.Data;

namespace KernelLab.Tests.Suites;

/// <summary>
/// Workloads trained to a target (SUITES.md, "Training to a target on real data") on a tiny learnable image set: the target is
/// reached and recorded, runs are bit-identical, a run stopped and resumed from its checkpoints ends as an uninterrupted one,
/// and a missing data set fails its run only.
/// </summary>
public sealed class TrainingTests : SuiteTestBase
{
    private const int Training = 200, Validation = 40, Test = 60;

    public TrainingTests()
    {
        // Image i shows its class (i % 10) as a bright band of rows over a little noise: an mlp learns it in an epoch or two.
        byte[] Images(int count, int salt) => [.. Enumerable.Range(0, count * 784).Select(k =>
        {
            int image = k / 784, pixel = k % 784;
            return pixel / 78 == image % 10 ? (byte)255 : (byte)((image * 31 + pixel * 7 + salt) % 64);
        })];
        byte[] Labels(int count) => [.. Enumerable.Range(0, count).Select(i => (byte)(i % 10))];
        Directory.CreateDirectory(DataPath);
        void Write(string name, byte[] idx) => File.WriteAllBytes(Path.Combine(DataPath, name), DataFolder.Gzip(idx));
        Write("train-images-idx3-ubyte.gz", DataFolder.Idx(0x803, [Training + Validation, 28, 28], Images(Training + Validation, 0)));
        Write("train-labels-idx1-ubyte.gz", DataFolder.Idx(0x801, [Training + Validation], Labels(Training + Validation)));
        Write("t10k-images-idx3-ubyte.gz", DataFolder.Idx(0x803, [Test, 28, 28], Images(Test, 5)));
        Write("t10k-labels-idx1-ubyte.gz", DataFolder.Idx(0x801, [Test], Labels(Test)));
    }

    private string DataPath => Temp("fashion");

    /// <summary>A suite of one mlp workload trained on the tiny set, on <paramref name="backend"/>, with <paramref name="edit"/> applied to the workload.</summary>
    private string TrainingSuite(string backend, Action<JsonObject>? edit = null, string file = "train.json")
    {
        var workload = new JsonObject
        {
            ["name"] = "tiny-mlp",
            ["model"] = new JsonObject { ["family"] = "mlp", ["sizes"] = new JsonArray(784, 16, 10) },
            ["batch"] = 16,
            ["data"] = new JsonObject { ["dataset"] = "fashion-mnist", ["validation"] = Validation, ["path"] = DataPath },
            ["target"] = new JsonObject { ["metric"] = "accuracy", ["value"] = 0.9, ["max_epochs"] = 10 },
            ["seeds"] = new JsonArray(1, 2),
        };
        edit?.Invoke(workload);
        var suite = new JsonObject
        {
            ["name"] = "train-test", ["backends"] = new JsonArray(backend),
            ["optimizer"] = new JsonObject { ["name"] = "adam", ["lr"] = 0.01 },
            ["workloads"] = new JsonArray(workload),
        };
        Quick(suite, minSteps: 1);
        string path = Temp(file);
        File.WriteAllText(path, suite.ToJsonString());
        return path;
    }

    private static ResultsDocument Run(string suite, string backend, string outDir, int? checkpointEvery = null, bool resume = false,
        ISuiteObserver? observer = null, CancellationToken? cancel = null) =>
        new SuiteRunner(Suite.Load(suite), [backend], outDir, observer ?? new QuietObserver())
        {
            ProbePeaks = false, CheckpointEvery = checkpointEvery, Resume = resume,
        }.Run(cancel ?? TestContext.Current.CancellationToken);

    [Fact]
    public void ReachesTheTargetAndRecordsEachSeed()
    {
        var run = Assert.Single(Run(TrainingSuite("cpu-simd"), "cpu-simd", Temp("out")).Runs);
        Assert.True(run.IsOk, run.Error);
        var training = run.Training!;
        Assert.Equal(("accuracy", 0.9), (training.Metric, training.Target));
        Assert.Contains("200 training, 40 validation, 60 test images", training.Data);
        Assert.Equal([1UL, 2UL], training.Seeds.Select(s => s.Seed));
        foreach (var seed in training.Seeds)
        {
            Assert.Equal("target", seed.Stopped);
            Assert.True(seed.FinalMetric >= 0.9, $"seed {seed.Seed}: final accuracy {seed.FinalMetric}");
            Assert.True(seed.TimeToTargetS > 0);
            Assert.Equal(seed.Epochs * (Training / 16), seed.Steps);
            var curves = seed.Curves!;
            Assert.Equal(seed.Epochs, curves.Validation.Steps.Count); // image data: one evaluation per epoch
            Assert.Equal(seed.FinalMetric, curves.Validation.Values[^1]);
            Assert.Equal(seed.Steps, curves.TrainingLoss.Steps[^1]);
            Assert.True(curves.TrainingLoss.Values[^1] < curves.TrainingLoss.Values[0], "the training loss went down");
            // The final parameters, under their state_dict names, beside the results.
            var file = SafetensorsFile.Read(Path.Combine(Temp("out"), seed.Params!));
            Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], file.Tensors.Select(t => t.Name));
        }
        Assert.Equal(new TrainingSummary { Seeds = 2, Reached = 2, TimeToTargetSMean = training.Seeds.Average(s => s.TimeToTargetS) }, training.Summary);
    }

    public static TheoryData<string> AllBackends => new(BackendRegistry.Names);

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void TheSameSeedGivesByteIdenticalCurvesAndParameters(string backend)
    {
        TestBackends.CreateOrSkip(backend).Dispose();
        string suite = TrainingSuite(backend, w => w["target"]!["max_epochs"] = 2);
        var first = Run(suite, backend, Temp("first")).Runs.Single();
        var second = Run(suite, backend, Temp("second")).Runs.Single();
        Assert.True(first.IsOk && second.IsOk, first.Error ?? second.Error);
        Assert.Equal(Curves(first), Curves(second));
        foreach (var seed in first.Training!.Seeds)
            Assert.Equal(File.ReadAllBytes(Path.Combine(Temp("first"), seed.Params!)), File.ReadAllBytes(Path.Combine(Temp("second"), seed.Params!)));
    }

    /// <summary>
    /// cpu-simd splits its sums by thread count, so another count is not bit-identical (kernellab backends says so): after two
    /// epochs the final parameters still agree within the float32 rule of MODELS.md.
    /// </summary>
    [Fact]
    public void AnotherThreadCountAgreesWithinTheTolerance()
    {
        string suite = TrainingSuite("cpu-simd", w => (w["threads"], w["seeds"], w["target"]!["max_epochs"]) = (new JsonArray(1, 2), new JsonArray(1), 2));
        var runs = Run(suite, "cpu-simd", Temp("out")).Runs;
        Assert.All(runs, r => Assert.True(r.IsOk, r.Error));
        var (one, two) = (Read(runs[0]), Read(runs[1]));
        foreach (var tensor in one.Tensors)
        {
            long[] shape = [.. tensor.Shape];
            var result = TensorComparison.Compare(tensor.Name, two.ReadReal(tensor.Name, shape), one.ReadReal(tensor.Name, shape), TensorComparison.ToleranceFor(Precision.Float32));
            Assert.True(result.Passed, result.ToString());
        }
        Assert.Contains("another thread count", BackendRegistry.Find("cpu-simd").Reproducibility);

        SafetensorsFile Read(RunRecord run) => SafetensorsFile.Read(Path.Combine(Temp("out"), run.Training!.Seeds.Single().Params!));
    }

    /// <param name="blocks">
    /// With the training blocks too: dropout (masks keyed by the optimizer step), batch norm (running statistics and
    /// num_batches_tracked in the checkpoint), augmentation (keyed by epoch and batch), l1 and clipping.
    /// </param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ARunStoppedAndResumedFromItsCheckpointsEndsAsAnUninterruptedOne(bool blocks)
    {
        // A loss no run reaches: both seeds train all 3 epochs (12 steps each), and the stop falls in the second seed, after
        // the first has finished (its final checkpoint says so) and two checkpoints into the second.
        // A plateau schedule too: its rate and state go into the checkpoints with the rest.
        string suite = TrainingSuite("cpu-simd", w =>
        {
            w["target"] = new JsonObject { ["metric"] = "loss", ["value"] = 1e-9, ["max_epochs"] = 3 };
            if (blocks)
            {
                w["model"]!["dropout"] = 0.2;
                w["model"]!["batch_norm"] = true;
                w["data"]!["augment"] = new JsonObject { ["crop_padding"] = 2, ["hflip"] = true };
            }
        });
        string regularised = blocks ? ",\"l1\":0.0001,\"clip_grad_norm\":0.5" : "";
        File.WriteAllText(suite, File.ReadAllText(suite).Replace("\"lr\":0.01}", $"\"lr\":0.01{regularised},\"schedule\":{{\"name\":\"plateau\",\"factor\":0.5,\"patience\":0}}}}"));
        Assert.Equal(blocks, Suite.Load(suite).Optimizer.ClipGradNorm is not null);
        Assert.IsType<PlateauSchedule>(Suite.Load(suite).Schedule);
        var whole = Run(suite, "cpu-simd", Temp("whole")).Runs.Single();

        using var stop = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Run(suite, "cpu-simd", Temp("stopped"), checkpointEvery: 5, observer: new StopAfterSteps(36 + 13, stop), cancel: stop.Token));
        Assert.True(File.Exists(Path.Combine(Temp("stopped"), TargetTrainer.CheckpointPath(Suite.Load(suite).Workloads[0], "cpu-simd", 2))));
        var resumed = Run(suite, "cpu-simd", Temp("stopped"), checkpointEvery: 5, resume: true).Runs.Single();

        Assert.True(whole.IsOk && resumed.IsOk, whole.Error ?? resumed.Error);
        Assert.Equal(Curves(whole), Curves(resumed));
        // Resumed again, the finished run is kept, not trained again, and stays in the folder's results file.
        var again = Run(suite, "cpu-simd", Temp("stopped"), checkpointEvery: 5, resume: true).Runs.Single();
        Assert.Equal(JsonSerializer.Serialize(resumed), JsonSerializer.Serialize(again));
        Assert.Equal(JsonSerializer.Serialize(resumed), JsonSerializer.Serialize(ResultsFile.Load(Path.Combine(Temp("stopped"), ResultsFile.FileName)).Runs.Single()));
        foreach (var seed in whole.Training!.Seeds)
        {
            Assert.Equal("max_epochs", seed.Stopped);
            Assert.Equal(File.ReadAllBytes(Path.Combine(Temp("whole"), seed.Params!)), File.ReadAllBytes(Path.Combine(Temp("stopped"), seed.Params!)));
        }
    }

    [Fact]
    public void EarlyStoppingEndsARunThatNoLongerImproves()
    {
        // lr 0: the validation loss never goes below its first value, so training stops after 'patience' more evaluations.
        string suite = TrainingSuite("cpu-simd", w => w["target"]!["early_stopping"] = new JsonObject { ["patience"] = 2 });
        File.WriteAllText(suite, File.ReadAllText(suite).Replace("\"lr\":0.01", "\"lr\":0"));
        var seed = Run(suite, "cpu-simd", Temp("out")).Runs.Single().Training!.Seeds[0];
        Assert.Equal(("early_stopping", 3, (double?)null), (seed.Stopped, seed.Epochs, seed.TimeToTargetS));
    }

    [Fact]
    public void AMissingDataSetFailsItsRunAndTheOthersFinish()
    {
        string suite = TrainingSuite("cpu-simd", w => w["data"]!["path"] = Temp("no-such-folder"));
        var json = JsonNode.Parse(File.ReadAllText(suite))!.AsObject();
        json["workloads"]!.AsArray().Insert(0, new JsonObject
        {
            ["name"] = "mlp", ["model"] = new JsonObject { ["family"] = "mlp", ["sizes"] = new JsonArray(20, 16, 10) }, ["batch"] = 4,
        });
        File.WriteAllText(suite, json.ToJsonString());
        var runs = Run(suite, "cpu-simd", Temp("out")).Runs;
        Assert.True(runs[0].IsOk, runs[0].Error);
        Assert.Equal(RunStatus.Failed, runs[1].Status);
        Assert.Contains("no-such-folder", runs[1].Error);
        Assert.Contains("dataset-fashion-mnist", runs[1].Error);
        Assert.Equal(2, ResultsFile.Load(Path.Combine(Temp("out"), ResultsFile.FileName)).Runs.Count);
    }

    [Fact]
    public void TheCommandLinePrintsOneLinePerEvaluation()
    {
        string suite = TrainingSuite("cpu-simd", w => w["seeds"] = new JsonArray(3));
        var (code, stdout, stderr) = Cli("run", suite, "--out", Temp("out"));
        Assert.True(code == 0, stdout + stderr);
        var evaluations = stdout.Split('\n').Where(l => l.Contains("seed 3 epoch")).ToList();
        var seed = ResultsFile.Load(Path.Combine(Temp("out"), ResultsFile.FileName)).Runs.Single().Training!.Seeds.Single();
        Assert.Equal(seed.Epochs, evaluations.Count);
        Assert.Contains("accuracy", evaluations[^1]);
        Assert.Contains("reached by 1/1 seeds", stdout);
    }

    public static TheoryData<string, string, string> BadTrainingFields => new()
    {
        { "seeds", "remove data and target", "'seeds' is given, but the workload has no 'data' and 'target'" },
        { "target", "remove", "'target' is missing: a workload trained to a target gives both 'data' and 'target'" },
        { "target.metric", "\"top5\"", "'metric' is \"top5\", expected \"accuracy\"" },
        { "target.value", "1.5", "'value' is 1.5, expected an accuracy in (0, 1]" },
        { "target.max_epochs", "0", "'max_epochs' is 0, expected a positive integer" },
        { "target.eval_every", "10", "'eval_every' is given, but image data is evaluated once per epoch" },
        { "target.early_stopping", "{\"patience\": -1}", "'patience' is -1, expected a positive integer" },
        { "seeds", "[1, 1]", "seed 1 is listed twice" },
        { "model.sizes", "[100, 16, 10]", "fashion-mnist" },
    };

    /// <summary>A bad training field is one line naming the suite, the workload and the field, before anything runs.</summary>
    [Theory]
    [MemberData(nameof(BadTrainingFields))]
    public void ABadTrainingFieldIsOneLine(string field, string value, string expected)
    {
        string suite = TrainingSuite("cpu-simd", w =>
        {
            string[] path = field.Split('.');
            var parent = path.Length == 1 ? w : w[path[0]]!.AsObject();
            if (value == "remove")
                parent.Remove(path[^1]);
            else if (value == "remove data and target")
            {
                w.Remove("data");
                w.Remove("target");
            }
            else
                parent[path[^1]] = JsonNode.Parse(value);
        });
        AssertOneLineError(Cli("run", suite, "--out", Temp("out")), suite, "workloads[0] ('tiny-mlp')", expected);
        Assert.False(Directory.Exists(Temp("out")));
    }

    [Fact]
    public void ACorruptDataFileFailsTheRunWithOneLineNamingIt()
    {
        string images = Path.Combine(DataPath, "train-images-idx3-ubyte.gz");
        byte[] bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..(bytes.Length / 2)]);
        var (code, stdout, stderr) = Cli("run", TrainingSuite("cpu-simd"), "--out", Temp("out"));
        Assert.Equal(1, code);
        Assert.Equal("", stderr);
        Assert.DoesNotContain("   at ", stdout);
        string failed = Assert.Single(stdout.Split('\n'), l => l.Contains("failed: "));
        Assert.Contains(images, failed);
        Assert.Contains(images, ResultsFile.Load(Path.Combine(Temp("out"), ResultsFile.FileName)).Runs.Single().Error);
    }

    private static string Curves(RunRecord run) => JsonSerializer.Serialize(run.Training!.Seeds.Select(s => s.Curves));

    /// <summary>Cancels the run after <paramref name="steps"/> training steps (one progress report each).</summary>
    private sealed class StopAfterSteps(int steps, CancellationTokenSource stop) : ISuiteObserver
    {
        private int _seen;

        public void Started(ResultsDocument document, IReadOnlyList<(Workload Workload, string Backend)> plan)
        {
        }

        public void Progress(Workload workload, string backend, string phase, double progress)
        {
            if (phase.StartsWith("seed ", StringComparison.Ordinal) && ++_seen == steps)
                stop.Cancel();
        }

        public void Finished(Workload workload, RunRecord run)
        {
        }
    }
}
