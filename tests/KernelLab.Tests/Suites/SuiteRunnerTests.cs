using System.Text.Json;
using System.Text.Json.Nodes;
using KernelLab.Backends;
using KernelLab.Suites;
using KernelLab.Results;

namespace KernelLab.Tests;

/// <summary>A suite run: every fixed field of SUITES.md, results written after every run, unavailable backends recorded.</summary>
public sealed class SuiteRunnerTests : SuiteTestBase
{
    [Fact]
    public void SmokeRunWritesEveryFixedField()
    {
        string outDir = Temp("out");
        // One backend that cannot run here, where there is one, to see it recorded with its reason.
        string? unavailable = BackendRegistry.All.FirstOrDefault(e => !e.Probe().IsAvailable)?.Name;
        string[] backends = unavailable is null ? ["reference"] : ["reference", unavailable];
        var (code, stdout, stderr) = Cli("run", QuickSmoke(), "--backends", string.Join(",", backends), "--out", outDir);
        Assert.True(code == 0, stderr);
        Assert.Contains("mlp          reference  ok  median", stdout);
        if (unavailable is not null)
            Assert.Contains($"{unavailable,-10} unavailable: ", stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        var root = doc.RootElement;
        Assert.Equal("kernellab.results/1", root.GetProperty("schema").GetString());
        Assert.Equal("smoke", root.GetProperty("suite").GetString());
        Assert.True(DateTime.TryParse(root.GetProperty("started").GetString(), out _));
        var machine = root.GetProperty("machine");
        foreach (string field in new[] { "os", "cpu", "cores", "simd", "gpus", "dotnet" })
            Assert.True(machine.TryGetProperty(field, out _), $"machine.{field} is missing");
        Assert.Equal(JsonValueKind.Array, machine.GetProperty("gpus").ValueKind);
        var devices = machine.GetProperty("devices").EnumerateArray()
            .Select(d => (d.GetProperty("backend").GetString(), d.GetProperty("id").GetString(), d.GetProperty("available").GetBoolean())).ToList();
        var expected = BackendRegistry.All.Where(e => e.Probe().IsAvailable)
            .SelectMany(e => e.Devices().Select(d => ((string?)e.Name, (string?)d.Id, d.Availability.IsAvailable))).ToList();
        Assert.Equal(expected, devices);

        var runs = root.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(SmokeWorkloads * backends.Length, runs.Count);
        foreach (var run in runs.Where(r => r.GetProperty("backend").GetString() == "reference"))
        {
            Assert.Equal("ok", run.GetProperty("status").GetString());
            var correctness = run.GetProperty("correctness");
            Assert.True(correctness.GetProperty("passed").GetBoolean());
            Assert.Equal(0, correctness.GetProperty("max_err").GetDouble());
            Assert.Equal("reference", correctness.GetProperty("reference").GetString());
            var t = run.GetProperty("throughput");
            foreach (string field in new[] { "step_ms_median", "step_ms_min", "step_ms_max", "steps", "samples_per_second", "gflops" })
                Assert.True(t.TryGetProperty(field, out _), $"throughput.{field} is missing");
            Assert.Equal(2, t.GetProperty("steps").GetInt32());
            Assert.Equal(2, t.GetProperty("samples_ms").GetArrayLength());
            Assert.True(t.GetProperty("step_ms_min").GetDouble() <= t.GetProperty("step_ms_median").GetDouble());
        }
        foreach (var run in runs.Where(r => r.GetProperty("backend").GetString() == unavailable))
        {
            Assert.Equal("unavailable", run.GetProperty("status").GetString());
            Assert.False(string.IsNullOrEmpty(run.GetProperty("reason").GetString()));
        }
        var lstm = runs.Single(r => r.GetProperty("workload").GetString() == "lstm" && r.GetProperty("status").GetString() == "ok");
        Assert.True(lstm.GetProperty("throughput").GetProperty("tokens_per_second").GetDouble() > 0);
    }

    /// <summary>A backend on a kind of device the suite skips is recorded skipped, with the suite's reason and the device, and not run.</summary>
    [Fact]
    public void SkippedDevice_IsRecordedWithTheSuitesReason()
    {
        var entry = BackendRegistry.All.FirstOrDefault(e => e.Name != "reference" && e.Probe().IsAvailable)
            ?? throw new InvalidOperationException("cpu-simd is always available");
        string kind;
        using (var backend = entry.Create())
            kind = backend.Info.Kind;
        var suite = Suite.Load(SmokeWith(j =>
        {
            j["min_steps"] = 1;
            j["min_seconds"] = 0;
            j["skip_devices"] = JsonNode.Parse($"[{{\"backend\": \"{entry.Name}\", \"kind\": \"{kind}\", \"reason\": \"too slow here\"}}]");
        }, "skip.json"));
        var document = new SuiteRunner(suite, [entry.Name], Temp("out"), new CrashingObserver(crashAfter: int.MaxValue)) { ProbePeaks = false }
            .Run(TestContext.Current.CancellationToken);
        Assert.All(document.Runs, r =>
        {
            Assert.Equal(RunStatus.Skipped, r.Status);
            Assert.Equal($"the suite skips {entry.Name} on a {kind} device ({r.Device}): too slow here", r.Reason);
            Assert.Null(r.Throughput);
            Assert.Null(r.Correctness);
        });
        Assert.Equal(RunStatus.Skipped, ResultsFile.Load(Temp("out")).Runs[0].Status);
    }

    [Fact]
    public void ResultsAreOnDiskAfterEveryRun()
    {
        var suite = Suite.Load(QuickSmoke());
        string outDir = Temp("out");
        var observer = new CheckingObserver(Path.Combine(outDir, ResultsFile.FileName));
        new SuiteRunner(suite, ["reference", "cpu-simd"], outDir, observer) { ProbePeaks = false }.Run(TestContext.Current.CancellationToken);
        Assert.Equal(2 * SmokeWorkloads, observer.Checked);
    }

    [Fact]
    public void ACrashLaterLosesNothingThatFinished()
    {
        var suite = Suite.Load(QuickSmoke());
        string outDir = Temp("out");
        var observer = new CrashingObserver(crashAfter: 3);
        Assert.Throws<InvalidOperationException>(() => new SuiteRunner(suite, ["reference"], outDir, observer) { ProbePeaks = false }.Run(TestContext.Current.CancellationToken));
        var results = ResultsFile.Load(outDir);
        Assert.Equal(["mlp", "cnn", "lstm"], results.Runs.Select(r => r.Workload));
        Assert.All(results.Runs, r => Assert.Equal(RunStatus.Ok, r.Status));
    }

    /// <summary>After each run, results.json holds exactly the runs finished so far.</summary>
    private sealed class CheckingObserver(string path) : ISuiteObserver
    {
        private readonly List<RunRecord> _finished = [];

        public int Checked { get; private set; }

        public void Started(ResultsDocument document, IReadOnlyList<(Workload Workload, string Backend)> plan) => Assert.Equal(2 * SmokeWorkloads, plan.Count);

        public void Progress(Workload workload, string backend, string phase, double progress)
        {
        }

        public void Finished(Workload workload, RunRecord run)
        {
            _finished.Add(run);
            var onDisk = ResultsFile.Load(path);
            Assert.Equal(_finished.Select(r => (r.Workload, r.Backend, r.Status)), onDisk.Runs.Select(r => (r.Workload, r.Backend, r.Status)));
            Checked++;
        }
    }

    private sealed class CrashingObserver(int crashAfter) : ISuiteObserver
    {
        private int _finished;

        public void Started(ResultsDocument document, IReadOnlyList<(Workload Workload, string Backend)> plan)
        {
        }

        public void Progress(Workload workload, string backend, string phase, double progress)
        {
        }

        public void Finished(Workload workload, RunRecord run)
        {
            if (++_finished == crashAfter)
                throw new InvalidOperationException("the process dies here");
        }
    }
}
