using System.CommandLine;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Results;
using KernelLab.Suites;

namespace KernelLab.Cli;

/// <summary><c>kernellab ops --backend X [--shapes standard|FILE] [--workloads w,v] [--op a,b] [--out OPS.json] [--warmup S]</c>: every op checked against the reference, then timed.</summary>
internal static class OpsCommand
{
    public static Command Create(TextWriter stdout)
    {
        var backend = Options.Backend();
        var shapes = new Option<string>("--shapes") { Description = "suite whose workloads give the shapes: a name in suites/ (standard, smoke, large) or a suite file", DefaultValueFactory = _ => "standard" };
        var workloads = new Option<string?>("--workloads") { Description = "comma-separated workloads of the suite whose ops to check and time (default: all)" };
        var only = new Option<string?>("--op") { Description = "comma-separated ops to check and time, named as the table's op column names them (default: all); the step sums are left out" };
        var output = new Option<string?>("--out") { Description = "JSON file to write with every op's check, time, FLOP and bytes, and the machine's peaks (as ops-BACKEND.json in a results folder, kernellab report draws it on a roofline)" };
        var warmup = new Option<double>("--warmup") { Description = "seconds each op runs before it is timed, so the runtime's optimised code is what is timed", DefaultValueFactory = _ => 0.2 };
        var command = new Command("ops", "check every op of the contract against the reference at a suite's shapes (fresh random inputs, poisoned outputs), then time it")
        {
            backend, shapes, workloads, only, output, warmup,
        };
        command.SetAction(r =>
        {
            var suite = Suite.Load(SuiteFiles.Resolve(r.GetValue(shapes)!));
            if (r.GetValue(workloads) is { } names)
                suite = suite.Only(Options.List(names), "--workloads");
            string[]? opNames = r.GetValue(only) is { } o ? Options.List(o) : null;
            double warmupSeconds = r.GetValue(warmup);
            if (!(warmupSeconds >= 0))
                throw new KernelLabException($"--warmup {warmupSeconds}: expected seconds >= 0");
            string name = r.GetValue(backend)!;
            using var device = BackendRegistry.Create(name);
            var ops = new OpsRunner(device, warmupSeconds: warmupSeconds).Run(suite, opNames); // a Debug build is refused here, before any output
            stdout.WriteLine($"{name} ({device.Info.Name}) against the reference at the shapes of {suite.Name}; tolerance {TensorComparison.ToleranceFor(device.Precision):G2}");
            stdout.WriteLine($"{"workload",-12} {"op",-22} {"check",-6} {"max err",9} {"median ms",11} {"min ms",10} {"per step",8} {"ms/step",9}  shape");
            // The peaks a roofline draws the ops against, measured before the ops load the machine.
            var machine = r.GetValue(output) is null ? null : MachineProbe.Describe();
            var results = new List<OpRecord>();
            foreach (var result in ops)
            {
                if (opNames is null && results.Count > 0 && results[^1].Workload != result.Workload)
                    WriteStepSum(stdout, results);
                results.Add(result);
                string check = result.Passed ? "ok" : "FAIL";
                string median = result.MedianMs is { } m ? Terminal.Ms(m) : "-";
                string min = result.MinMs is { } n ? Terminal.Ms(n) : "-";
                string perStep = result.MsPerStep is { } s ? Terminal.Ms(s) : "-";
                stdout.WriteLine($"{result.Workload,-12} {result.Op,-22} {check,-6} {Terminal.Error(result.MaxErr),9} {median,11} {min,10} {result.RunsPerStep,8:0.##} {perStep,9}  {result.Shape}");
                if (result.Error is not null)
                    stdout.WriteLine($"{"",-12} {result.Error}");
            }
            if (opNames is null && results.Count > 0)
                WriteStepSum(stdout, results);
            if (r.GetValue(output) is { } path)
            {
                ResultsFile.Write(path, new OpsDocument(OpsDocument.SchemaName, name, device.Info.Name, device.Precision.ToString(), suite.Name,
                    TensorComparison.ToleranceFor(device.Precision), results, device.Info.Kind, machine));
            }
            int failed = results.Count(x => !x.Passed);
            stdout.WriteLine($"{results.Count - failed} of {results.Count} ops match the reference");
            return failed == 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary>The last workload's ops added up over one step: where its time goes, each op timed alone (caches warm, no other op between).</summary>
    private static void WriteStepSum(TextWriter stdout, List<OpRecord> results)
    {
        string workload = results[^1].Workload;
        var ops = StepOp.Of(results.Where(r => r.Workload == workload));
        double sum = ops.Sum(op => op.MsPerStep);
        string largest = string.Join(", ", ops.Where(op => op.MsPerStep > 0).Take(4).Select(op => $"{op.Op} {op.MsPerStep / sum:P0}"));
        stdout.WriteLine($"{workload,-12} one step's ops add up to {Terminal.Ms(sum)} ms, each timed alone ({largest}); kernellab run times the step itself");
    }
}
