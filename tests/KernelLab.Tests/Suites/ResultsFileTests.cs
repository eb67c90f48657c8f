using System.Text.Json.Nodes;
using KernelLab.Backends;
using KernelLab.Results;

namespace KernelLab.Tests;

/// <summary>Result files load later: the committed sample (written by an earlier build) and the spec's own example, and a write reads back the same.</summary>
public sealed class ResultsFileTests : SuiteTestBase
{
    private static readonly string Sample = Path.Combine(AppContext.BaseDirectory, "fixtures", "results", "sample-results.json");

    // The example of shared/spec/SUITES.md, fixed fields only.
    private const string SpecExample = """
        {
          "schema": "kernellab.results/1",
          "suite": "standard",
          "started": "2026-11-21T10:00:00Z",
          "machine": {"os": "...", "cpu": "...", "cores": 2, "simd": "AVX2", "gpus": [], "dotnet": "10.0.x"},
          "runs": [
            {"workload": "mlp", "backend": "cpu-simd", "status": "ok",
             "correctness": {"passed": true, "max_err": 3.1e-7, "reference": "reference"},
             "throughput": {"step_ms_median": 1.9, "step_ms_min": 1.8, "step_ms_max": 2.4, "steps": 120,
                            "samples_per_second": 33684, "gflops": 22.1}}
          ]
        }
        """;

    [Fact]
    public void CommittedSampleStillLoads()
    {
        var results = ResultsFile.Load(Sample);
        Assert.Equal("smoke", results.Suite);
        Assert.Equal("AVX-512", results.Machine.Simd);
        Assert.Empty(results.Machine.Gpus);
        Assert.Null(results.Machine.Devices); // written before machine.devices existed
        Assert.Equal(9, results.Runs.Count);
        Assert.Equal(4, results.Runs.Count(r => r.Status == RunStatus.Ok));
        Assert.Equal(4, results.Runs.Count(r => r.Status == RunStatus.Unavailable && r.Reason is { Length: > 0 }));
        var failed = Assert.Single(results.Runs, r => r.Status == RunStatus.Failed);
        Assert.Contains("CL_BUILD_PROGRAM_FAILURE", failed.Error);
        foreach (var run in results.Runs.Where(r => r.IsOk))
        {
            Assert.True(run.Correctness!.Passed);
            Assert.Equal(0, run.Correctness.MaxErr);
            Assert.Equal(4, run.Throughput!.Steps);
            Assert.Equal(4, run.Throughput.SamplesMs!.Count);
            Assert.InRange(run.Throughput.StepMsMedian, run.Throughput.StepMsMin, run.Throughput.StepMsMax);
        }
    }

    [Fact]
    public void SpecExampleLoads()
    {
        var results = ResultsFile.Parse(SpecExample, "example");
        var run = Assert.Single(results.Runs);
        Assert.Equal(("mlp", "cpu-simd", "ok"), (run.Workload, run.Backend, run.Status));
        Assert.Equal(3.1e-7, run.Correctness!.MaxErr);
        Assert.Equal(120, run.Throughput!.Steps);
        Assert.Null(run.Throughput.SamplesMs);
    }

    [Fact]
    public void WriteThenLoadRoundTrips()
    {
        var original = ResultsFile.Load(Sample);
        string path = Temp("results.json");
        ResultsFile.Write(path, original);
        var loaded = ResultsFile.Load(Dir);
        Assert.Equal(ResultsFile.Serialize(original), ResultsFile.Serialize(loaded));
        Assert.Equal(original.Machine with { Gpus = [], OpenclDevices = [] }, loaded.Machine with { Gpus = [], OpenclDevices = [] });
        Assert.Equal(original.Runs[0].Throughput!.SamplesMs, loaded.Runs[0].Throughput!.SamplesMs);
        Assert.Equal(original.Runs.Select(r => r with { Correctness = null, Throughput = null }), loaded.Runs.Select(r => r with { Correctness = null, Throughput = null }));
    }

    [Fact]
    public void MachineDevicesRoundTrip()
    {
        var original = ResultsFile.Load(Sample);
        var device = new DeviceRecord
        {
            Backend = "opencl", Id = "1:0", Name = "a GPU", Kind = "gpu", Available = false, Reason = "why not",
            Vendor = "a vendor", Properties = new Dictionary<string, string> { ["driver version"] = "1.2" },
        };
        var written = original with { Machine = original.Machine with { Devices = [device] } };
        var loaded = Assert.Single(ResultsFile.Parse(ResultsFile.Serialize(written), "round trip").Machine.Devices!);
        Assert.Equal(device with { Properties = null }, loaded with { Properties = null });
        Assert.Equal(device.Properties, loaded.Properties);
    }

    [Theory]
    [InlineData("schema", "schema is 'kernellab.results/0'")]
    [InlineData("machine.cores", "cores")]
    [InlineData("runs.0.status", "status")]
    [InlineData("suite", "suite")]
    public void BrokenFilesFailInOneLine(string field, string phrase)
    {
        var json = JsonNode.Parse(SpecExample)!.AsObject();
        if (field == "schema")
            json["schema"] = "kernellab.results/0";
        else if (field == "machine.cores")
            json["machine"]!.AsObject().Remove("cores");
        else if (field == "runs.0.status")
            json["runs"]![0]!.AsObject().Remove("status");
        else
            json.Remove(field);
        var e = Assert.Throws<KernelLabException>(() => ResultsFile.Parse(json.ToJsonString(), "broken.json"));
        Assert.StartsWith("broken.json: ", e.Message);
        Assert.Contains(phrase, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
