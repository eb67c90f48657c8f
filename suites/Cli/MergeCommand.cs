using System.CommandLine;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Results;
using KernelLab.Suites;

namespace KernelLab.Cli;

/// <summary><c>kernellab merge DIR... --out DIR [--allow-partial]</c>: one results.json from the shards of a suite run.</summary>
internal static class MergeCommand
{
    public static Command Create(TextWriter stdout)
    {
        var inputs = new Argument<string[]>("results") { Description = "the shards' results folders (or their results.json)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Required = true, Description = "folder for the merged results.json" };
        var allowPartial = new Option<bool>("--allow-partial") { Description = "merge even when runs of the suite are missing (a shard failed or was cancelled), naming them" };
        var command = new Command("merge", "merge the results of a suite's shards ('kernellab run --shard I/N') into one results.json, " +
            "checking that they ran the same suite file and that every run is there exactly once")
        {
            inputs, output, allowPartial,
        };
        command.SetAction(r =>
        {
            string[] sources = r.GetValue(inputs)!;
            string outDir = r.GetValue(output)!;
            if (sources.FirstOrDefault(s => SameFolder(s, outDir)) is { } clash)
                throw new KernelLabException($"--out {outDir}: it is one of the folders being merged ({clash}); write the merge elsewhere");
            var outcome = ResultsMerge.Merge(sources, r.GetValue(allowPartial));
            string path = Path.Combine(outDir, ResultsFile.FileName);
            OutputFolder.Create(outDir);
            using (FolderLock.Acquire(outDir, $"kernellab merge --out {outDir}"))
                ResultsFile.Write(path, outcome.Document);
            if (outcome.MissingNote is { } note)
                stdout.WriteLine($"partial merge: {note}");
            int hosts = outcome.Document.Runs.Select(x => x.Host).Distinct().Count();
            stdout.WriteLine($"wrote {path}: {outcome.Document.Runs.Count} of {outcome.Document.Plan!.Count} runs from {sources.Length} results " +
                $"({hosts} host{(hosts == 1 ? "" : "s")})");
            return 0;
        });
        return command;
    }

    private static bool SameFolder(string source, string outDir)
    {
        string folder = File.Exists(source) ? Path.GetDirectoryName(Path.GetFullPath(source))! : Path.GetFullPath(source);
        return Path.TrimEndingDirectorySeparator(folder) == Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir));
    }
}
