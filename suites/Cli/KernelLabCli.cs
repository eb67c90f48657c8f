using System.CommandLine;
using KernelLab.Backends;

namespace KernelLab.Cli;

/// <summary>
/// The <c>kernellab</c> command line. Every failure is one line on stderr and a non-zero exit:
/// 1 for an error in the input or the run, 2 for a malformed command line, 3 for a regression that
/// <c>compare --fail-on-regression</c> found, 70 for a bug in KernelLab.
/// </summary>
public static class KernelLabCli
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        using var interrupts = new Interrupts();
        var root = new RootCommand("KernelLab: one harness for deep-learning compute backends")
        {
            GradCommand.Create(stdout),
            TrainCommand.Create(stdout),
            BackendsCommand.Create(stdout),
            InitCommand.Create(stdout),
            BatchCommand.Create(stdout),
            RunCommand.Create(stdout, interrupts),
            ReportCommand.Create(stdout),
            CompareCommand.Create(stdout),
            MergeCommand.Create(stdout),
            OpsCommand.Create(stdout),
            KernelsCommand.Create(stdout),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            string verb = parsed.CommandResult.Command is RootCommand ? "" : parsed.CommandResult.Command.Name + " ";
            string messages = string.Join(' ', parsed.Errors.Select(e => OneLine(e.Message)).Distinct());
            stderr.WriteLine($"error: {messages} (see kernellab {verb}--help)");
            return 2;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (KernelLabException e)
        {
            stderr.WriteLine($"error: {OneLine(e.Message)}");
            return 1;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"internal error: {e.GetType().Name}: {OneLine(e.Message)}");
            return 70;
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
