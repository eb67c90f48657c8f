using System.Text.Json;
using System.Text.Json.Nodes;
using KernelLab.Cli;
using KernelLab.Results;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>A temporary folder, the bundled suite files, and the CLI run in-process.</summary>
public abstract class SuiteTestBase : IDisposable
{
    protected SuiteTestBase() => Directory.CreateDirectory(Dir);

    protected string Dir { get; } = Path.Combine(Path.GetTempPath(), "kernellab-suite-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    public static string Bundled(string name) => Path.Combine(AppContext.BaseDirectory, "suites", name + ".json");

    /// <summary>Workloads of suites/smoke.json: the counts of runs, shards and merges follow from it.</summary>
    public static int SmokeWorkloads { get; } = Suite.Load(Bundled("smoke")).Workloads.Count;

    /// <summary>The smoke suite with <paramref name="edit"/> applied, written to a file in <see cref="Dir"/>.</summary>
    protected string SmokeWith(Action<JsonObject> edit, string file = "suite.json")
    {
        var json = JsonNode.Parse(File.ReadAllText(Bundled("smoke")))!.AsObject();
        edit(json);
        string path = Path.Combine(Dir, file);
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    /// <summary>The smoke suite cut to its quickest settings: no time minimum, two steps.</summary>
    protected string QuickSmoke(string file = "quick.json") => SmokeWith(j => Quick(j), file);

    /// <summary>A suite's quickest settings: no warm-up, no time minimum, <paramref name="minSteps"/> timed steps.</summary>
    protected static void Quick(JsonObject suite, int minSteps = 2)
    {
        suite["warmup_steps"] = 0;
        suite["warmup_seconds"] = 0;
        suite["min_steps"] = minSteps;
        suite["min_seconds"] = 0;
    }

    protected string Temp(string name) => Path.Combine(Dir, name);

    protected static (int Code, string Stdout, string Stderr) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = KernelLabCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A clean failure: non-zero exit, nothing on stdout, one line on stderr holding every phrase, no stack trace.</summary>
    protected static void AssertOneLineError((int Code, string Stdout, string Stderr) result, params string[] phrases)
    {
        var (code, stdout, stderr) = result;
        Assert.NotEqual(0, code);
        Assert.Equal("", stdout);
        Assert.DoesNotContain("   at ", stderr);
        string message = stderr.TrimEnd('\r', '\n');
        Assert.False(message.Contains('\n'), $"more than one line: {stderr}");
        Assert.StartsWith("error: ", message);
        foreach (string phrase in phrases)
            Assert.Contains(phrase, message);
    }
}

/// <summary>An observer that shows nothing, for runs a test drives through <see cref="SuiteRunner"/> itself.</summary>
internal sealed class QuietObserver : ISuiteObserver
{
    public void Started(ResultsDocument document, IReadOnlyList<(Workload Workload, string Backend)> plan)
    {
    }

    public void Progress(Workload workload, string backend, string phase, double progress)
    {
    }

    public void Finished(Workload workload, RunRecord run)
    {
    }
}
