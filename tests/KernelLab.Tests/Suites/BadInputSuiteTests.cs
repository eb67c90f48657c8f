using System.Text.Json.Nodes;
using KernelLab.Results;

namespace KernelLab.Tests;

/// <summary>
/// The reproducers of issue 15 that go through run, report and compare: each is one line and exit 1 (2 for a
/// malformed command line), with no stack trace and nothing half-written.
/// </summary>
public sealed class BadInputSuiteTests : SuiteTestBase
{
    private static readonly string Sample = Path.Combine(AppContext.BaseDirectory, "fixtures", "results", "sample-results.json");

    [Fact]
    public void LoneSurrogateInASuite_IsOneLineWithItsPath()
    {
        string suite = Temp("surrogate.json");
        File.WriteAllText(suite, File.ReadAllText(QuickSmoke()).Replace("\"name\": \"smoke\"", "\"name\": \"sm\\ud800oke\"", StringComparison.Ordinal));
        Assert.Contains("\\ud800", File.ReadAllText(suite));
        AssertOneLineError(Cli("run", suite, "--backends", "reference", "--out", Temp("out")), suite, "a string at $.name is not valid Unicode");
        Assert.False(Directory.Exists(Temp("out")));
    }

    [Fact]
    public void LoneSurrogateInAResultsFile_IsOneLineWithItsPath()
    {
        string results = Temp("surrogate-results.json");
        File.WriteAllText(results, File.ReadAllText(Sample).Replace("\"workload\": \"mlp\"", "\"workload\": \"\\udc00mlp\"", StringComparison.Ordinal));
        AssertOneLineError(Cli("report", results, "--out", Temp("report")), results, "a string at $.runs[0].workload is not valid Unicode");
        AssertOneLineError(Cli("compare", Sample, results), results, "is not valid Unicode");
    }

    [Fact]
    public void NullRunInAResultsFile_IsOneLineNotANullReference()
    {
        var json = JsonNode.Parse(File.ReadAllText(Sample))!.AsObject();
        json["runs"]!.AsArray().Insert(1, null);
        string results = Temp("null-run.json");
        File.WriteAllText(results, json.ToJsonString());
        AssertOneLineError(Cli("compare", Sample, results), results, "'runs[1]' is null, expected an object");
        AssertOneLineError(Cli("report", results, "--out", Temp("report")), results, "'runs[1]' is null");
        Assert.False(Directory.Exists(Temp("report")));
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("-5")]
    [InlineData("Infinity")]
    public void CompareRejectsABadRegressionThreshold(string percent) =>
        AssertOneLineError(Cli("compare", Sample, Sample, "--fail-on-regression", percent), $"--fail-on-regression {percent}: expected a percentage >= 0");

    [Fact]
    public void OutThatCannotBeCreated_IsOneLine()
    {
        string file = Temp("a-file");
        File.WriteAllText(file, "not a folder");
        AssertOneLineError(Cli("run", QuickSmoke(), "--backends", "reference", "--out", file), file, "cannot create the output folder: a file of that name exists");
        AssertOneLineError(Cli("run", QuickSmoke(), "--backends", "reference", "--out", "/proc/kernellab-test"), "/proc/kernellab-test", "cannot create the output folder");
        AssertOneLineError(Cli("report", Sample, "--out", file), file, "cannot create the output folder");
        AssertOneLineError(Cli("report", Sample, "--out", Path.Combine(file, "below")), "cannot create the output folder");
        Assert.Equal("not a folder", File.ReadAllText(file));
    }

    [Fact]
    public void WorkloadPast2Pow31Elements_IsRecordedWithTheTensorNamed()
    {
        string suite = SmokeWith(j =>
        {
            Quick(j, minSteps: 1);
            j["workloads"] = new JsonArray(new JsonObject
            {
                ["name"] = "wide", ["model"] = new JsonObject { ["family"] = "mlp", ["sizes"] = new JsonArray(39, 2000000000, 4) }, ["batch"] = 2,
            });
        });
        string outDir = Temp("out");
        var (code, _, _) = Cli("run", suite, "--backends", "reference,cpu-simd", "--out", outDir);
        Assert.Equal(1, code); // the runs failed, and say why
        var runs = ResultsFile.Load(outDir).Runs;
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r =>
        {
            Assert.Equal(RunStatus.Failed, r.Status);
            Assert.Contains("parameter 'fc1.weight' of shape [2000000000, 39] has 78,000,000,000 elements", r.Error);
            Assert.DoesNotContain("Arithmetic operation", r.Error);
        });
    }

    [Fact]
    public void SecondRunIntoAFolderBeingWritten_IsRefusedNamingTheHolder()
    {
        string outDir = Temp("busy");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, ResultsFile.FileName), File.ReadAllText(Sample));
        using (FolderLock.Acquire(outDir, "kernellab run first.json"))
        {
            AssertOneLineError(Cli("run", QuickSmoke(), "--backends", "reference", "--out", outDir), outDir,
                "another process is writing these results (kernellab run first.json, pid ", "choose another --out");
            Assert.Equal(File.ReadAllText(Sample), File.ReadAllText(Path.Combine(outDir, ResultsFile.FileName))); // the holder's file is untouched
        }
        var (code, _, stderr) = Cli("run", QuickSmoke(), "--backends", "reference", "--out", outDir);
        Assert.True(code == 0, stderr);
        Assert.Equal([ResultsFile.FileName], Directory.GetFiles(outDir).Select(Path.GetFileName));
    }

    [Fact]
    public void TemporaryFilesOfDeadProcessesAreRemovedByTheNextWrite()
    {
        string outDir = Temp("orphans");
        Directory.CreateDirectory(outDir);
        string dead = Path.Combine(outDir, $".results.json.{int.MaxValue - 1}.0123456789abcdef0123456789abcdef.tmp"); // no such pid
        string live = Path.Combine(outDir, $".results.json.{Environment.ProcessId}.fedcba9876543210fedcba9876543210.tmp");
        string other = Path.Combine(outDir, $".report.md.{int.MaxValue - 1}.0123456789abcdef0123456789abcdef.tmp");
        foreach (string f in new[] { dead, live, other })
            File.WriteAllText(f, "half a file");
        ResultsFile.Write(Path.Combine(outDir, ResultsFile.FileName), ResultsFile.Load(Sample));
        Assert.False(File.Exists(dead), "a dead process's temporary file of results.json stays");
        Assert.True(File.Exists(live), "a running process's temporary file was removed");
        Assert.True(File.Exists(other), "another file's temporary file was removed");
    }
}
