using System.CommandLine;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Safetensors;

namespace KernelLab.Cli;

/// <summary><c>kernellab batch</c>: a seeded synthetic batch (x ~ N(0, 1) or uniform token ids; uniform targets).</summary>
internal static class BatchCommand
{
    public static Command Create(TextWriter stdout)
    {
        var config = Options.Config();
        var size = new Option<int>("--batch") { Required = true, Description = "batch size B" };
        var seq = new Option<int?>("--seq") { Description = "sequence length T (lstm and transformer)" };
        var seed = Options.Seed();
        var output = Options.Required("--out", "batch file to write (safetensors: x and y)");
        var command = new Command("batch", "write a seeded synthetic batch for a config") { config, size, seq, seed, output };
        command.SetAction(r =>
        {
            var model = ModelConfig.Load(r.GetValue(config)!);
            int b = r.GetValue(size);
            int? t = r.GetValue(seq);
            if (b < 1)
                throw new KernelLabException($"--batch {b}: expected at least 1");
            if (model.IsSequence != t.HasValue)
                throw new KernelLabException(model.IsSequence ? $"--seq is required for a {model.Family} model" : $"--seq does not apply to a {model.Family} model");
            if (t < 1 || (model is TransformerConfig tc && t > tc.Context))
                throw new KernelLabException($"--seq {t}: expected 1 to the model's context");

            var batch = Batch.Synthetic(model, new BatchShape(b, t ?? 1), r.GetValue(seed));
            var writer = new SafetensorsWriter();
            long[] targetShape = model.IsSequence ? [b, t!.Value] : [b];
            if (batch.Tokens is { } tokens)
                writer.Add("x", [b, t!.Value], Array.ConvertAll(tokens, id => (long)id));
            else
                writer.Add("x", model is CnnConfig c ? [b, c.InChannels, c.Height, c.Width] : [b, batch.Features!.Length / b], Array.ConvertAll(batch.Features!, v => (float)v));
            writer.Add("y", targetShape, Array.ConvertAll(batch.Targets, id => (long)id));
            writer.Write(r.GetValue(output)!);
            stdout.WriteLine($"batch of {b} written to {r.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
