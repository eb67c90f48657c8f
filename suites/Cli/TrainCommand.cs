using System.CommandLine;
using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Training;

namespace KernelLab.Cli;

/// <summary><c>kernellab train</c>: repeated steps on one batch; the loss before every step, and optionally the final parameters.</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter stdout)
    {
        var inputs = new ModelSessionOptions();
        var optimizer = new Option<string>("--optimizer") { Description = "sgd, adam, adamw, rmsprop or adagrad", DefaultValueFactory = _ => "adamw" };
        var lr = new Option<double>("--lr") { Description = "learning rate", DefaultValueFactory = _ => 0.001 };
        var weightDecay = new Option<double?>("--weight-decay") { Description = "weight decay (default: the optimizer's PyTorch default)" };
        var momentum = new Option<double>("--momentum") { Description = "momentum of sgd and rmsprop", DefaultValueFactory = _ => 0 };
        var nesterov = new Option<bool>("--nesterov") { Description = "nesterov momentum (sgd)" };
        var schedule = new Option<string?>("--schedule")
        {
            Description = "learning-rate schedule, JSON as in a suite's optimizer: '{\"name\": \"cosine\", \"t_max\": 20}' (step, cosine, warmup_cosine)",
        };
        var l1 = new Option<double>("--l1") { Description = "lambda of the L1 term lambda * sum |w| over the weights (2 or more dimensions)", DefaultValueFactory = _ => 0 };
        var clip = new Option<double?>("--clip-grad-norm") { Description = "clip the global gradient norm to this before each update (clip_grad_norm_)" };
        var steps = new Option<int>("--steps") { Description = "optimizer steps", DefaultValueFactory = _ => 5 };
        var losses = Options.Required("--losses", "JSON file to write: {\"losses\": [loss before step 1, ...]}");
        var output = new Option<string?>("--out") { Description = "final parameters to write (safetensors, F32)" };
        var command = new Command("train", "train on one batch, repeated, and record the loss before every step")
        {
            optimizer, lr, weightDecay, momentum, nesterov, l1, clip, schedule, steps, losses, output,
        };
        inputs.AddTo(command);
        command.SetAction(r =>
        {
            int stepCount = r.GetValue(steps);
            if (stepCount < 1)
                throw new KernelLabException($"--steps {stepCount}: expected at least 1");
            var settings = OptimizerSettings.Defaults(OptimizerSettings.ParseKind(r.GetValue(optimizer)!), r.GetValue(lr));
            settings = settings with
            {
                WeightDecay = r.GetValue(weightDecay) ?? settings.WeightDecay,
                Momentum = r.GetValue(momentum),
                Nesterov = r.GetValue(nesterov),
                L1 = r.GetValue(l1),
                ClipGradNorm = r.GetValue(clip),
            };
            if (settings.Invalid() is var (field, value, expected))
                throw new KernelLabException($"--{field.Replace('_', '-')} {value}: expected {expected}");
            if (r.GetValue(losses) is { Length: > 0 } lossesFile && r.GetValue(output) is { Length: > 0 } paramsFile
                && Path.GetFullPath(lossesFile) == Path.GetFullPath(paramsFile))
                throw new KernelLabException($"--losses and --out are the same file ({lossesFile}): the losses would be overwritten by the parameters");

            var rates = r.GetValue(schedule) is { } json ? LearningRateSchedule.ParseText(json, "--schedule") : null;
            if (rates is PlateauSchedule)
                throw new KernelLabException("--schedule: plateau steps on a validation loss, which train (one batch, repeated) has none of: use it in a suite that trains to a target");

            using var session = inputs.Open(r, settings);
            using var trainer = new Optimizer(session.Backend, session.Network.Parameters.All, settings, rates);
            var history = new double[stepCount];
            var lrs = new double[stepCount];
            for (int s = 0; s < stepCount; s++)
            {
                lrs[s] = trainer.LearningRate;
                history[s] = trainer.Step(session.Network);
                ModelSession.RequireFinite($"loss before step {s + 1}", [history[s]]);
            }

            // Both files or neither: the losses and the final parameters are written side by side, then renamed.
            var files = new List<(string, Action<Stream>)>
            {
                (r.GetValue(losses)!, stream =>
                {
                    using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
                    w.WriteStartObject();
                    foreach (var (name, values) in new[] { ("losses", history), ("lrs", lrs) })
                    {
                        w.WriteStartArray(name);
                        foreach (double v in values)
                            w.WriteNumberValue(v);
                        w.WriteEndArray();
                    }
                    w.WriteEndObject();
                }),
            };
            if (r.GetValue(output) is { } outPath)
                files.Add((outPath, session.Network.Parameters.ToSafetensors().WriteTo));
            AtomicFile.WriteAll(files);
            stdout.WriteLine($"{settings.Kind} on {session.Backend.Name}: loss {history[0]:G6} -> {history[^1]:G6} over {stepCount} steps");
            return 0;
        });
        return command;
    }
}
