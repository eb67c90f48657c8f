using System.ComponentModel;
using System.Diagnostics;

namespace KernelLab.Tests;

/// <summary>A program a test runs beside .NET (python3, chromium): its exit code and output, or the test skipped with why it cannot start.</summary>
internal static class ExternalTool
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string program, IEnumerable<string> arguments, string whereToGetIt, int timeoutSeconds = 120)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            Assert.Skip($"{program} cannot be started ({e.Message}): {whereToGetIt}");
            throw;
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeoutSeconds * 1000))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{program} did not finish within {timeoutSeconds} s");
            }
            return (process.ExitCode, stdout.Result, stderr.Result);
        }
    }
}
