using System.Diagnostics;
using System.Runtime.InteropServices;
using KernelLab.Results;

namespace KernelLab.Tests;

/// <summary>
/// <c>kernellab run</c> killed at seeded random moments by SIGINT, SIGTERM and SIGKILL, 20 times into one results
/// folder: every time the folder holds valid results with every run the process reported finished; SIGINT and SIGTERM
/// stop after the current step with 130 and 143, say so in one line and leave no temporary file; a SIGKILL, which no
/// process outlives, may leave its temporary file and lock, which the next run into the folder clears.
/// </summary>
public sealed partial class InterruptTests : SuiteTestBase
{
    private const int SigInt = 2, SigKill = 9, SigTerm = 15;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [Fact]
    public async Task RunKilledAtRandomMomentsKeepsEveryFinishedRunAndNoTemporaryFile()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "signals are sent with Linux's kill(2)");
        string suite = SmokeWith(j =>
        {
            j["warmup_steps"] = 1;
            j["warmup_seconds"] = 0;
            j["min_steps"] = 2;
            j["min_seconds"] = 0.4;
        });
        string outDir = Temp("killed");
        var random = new Random(20261201);
        int[] signals = [SigInt, SigTerm, SigKill];
        var killedPids = new HashSet<int>();
        var cancel = TestContext.Current.CancellationToken;

        for (int round = 0; round < 20; round++)
        {
            int signal = round == 19 ? SigInt : signals[round % 3];
            using var process = Start(suite, outDir);
            var stdout = process.StandardOutput.ReadToEndAsync(cancel);
            await Task.Delay(TimeSpan.FromSeconds(0.3 + 3.5 * random.NextDouble()), cancel);
            bool signalled = !process.HasExited && kill(process.Id, signal) == 0;
            await process.WaitForExitAsync(cancel).WaitAsync(TimeSpan.FromSeconds(120), cancel);
            string output = await stdout;
            string what = $"round {round}, signal {signal}, exit {process.ExitCode}: {output}";

            if (signalled && signal != SigKill)
            {
                Assert.True(process.ExitCode is 0 || process.ExitCode == 128 + signal, what);
                if (output.Contains("suite smoke:", StringComparison.Ordinal) && process.ExitCode != 0)
                    Assert.Contains($"interrupted by {(signal == SigInt ? "SIGINT" : "SIGTERM")}: stopped after the current step", output);
            }
            if (signalled && signal == SigKill)
                killedPids.Add(process.Id);

            string results = Path.Combine(outDir, ResultsFile.FileName);
            if (File.Exists(results))
            {
                var runs = ResultsFile.Load(results).Runs; // whole and valid whenever it exists
                foreach (string finished in FinishedRuns(output))
                    Assert.Contains(runs, r => $"{r.Workload} {r.Backend}" == finished);
            }
            // Only a process killed outright leaves a temporary file behind.
            foreach (string temp in Directory.Exists(outDir) ? Directory.GetFiles(outDir, "*.tmp") : [])
                Assert.True(killedPids.Any(pid => Path.GetFileName(temp).Contains($".{pid}.", StringComparison.Ordinal)), $"{temp} left by {what}");
        }

        // One run to the end: it takes the folder over from whatever a SIGKILL left, and leaves only its results.
        using (var last = Start(QuickSmoke(), outDir))
        {
            string output = await last.StandardOutput.ReadToEndAsync(cancel);
            await last.WaitForExitAsync(cancel).WaitAsync(TimeSpan.FromSeconds(120), cancel);
            Assert.True(last.ExitCode == 0, output);
        }
        Assert.Equal([ResultsFile.FileName], Directory.GetFiles(outDir).Select(Path.GetFileName));
        Assert.Equal(2 * SmokeWorkloads, ResultsFile.Load(outDir).Runs.Count);
    }

    /// <summary>kernellab run as a process of its own, with SIGINT and SIGTERM at their default handling whatever this process inherited.</summary>
    private static Process Start(string suite, string outDir)
    {
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "--default-signal=INT,TERM", "dotnet", Path.Combine(AppContext.BaseDirectory, "kernellab.dll"), "run", suite,
                     "--backends", "reference,cpu-simd", "--out", outDir })
            start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    /// <summary>"workload backend" of each run the plain observer reported finished (it reports a run after writing it).</summary>
    private static IEnumerable<string> FinishedRuns(string stdout) =>
        stdout.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(w => w.Length > 2 && w[1] is "reference" or "cpu-simd" && w[2] is "ok" or "failed:" or "unavailable:" or "skipped:")
            .Select(w => $"{w[0]} {w[1]}");
}
