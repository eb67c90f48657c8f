using System.CommandLine;
using KernelLab.Backends;
using KernelLab.Models.Safetensors;

namespace KernelLab.Cli;

/// <summary><c>kernellab grad</c>: the loss and every parameter's gradient of one batch, as a safetensors file.</summary>
internal static class GradCommand
{
    public static Command Create(TextWriter stdout)
    {
        var inputs = new ModelSessionOptions();
        var output = Options.Required("--out", "gradient file to write (safetensors; the backend's precision)");
        var command = new Command("grad", "compute the loss and the gradient of every parameter on one batch") { output };
        inputs.AddTo(command);
        command.SetAction(r =>
        {
            using var session = inputs.Open(r);
            double loss = session.Network.ComputeGradients();
            ModelSession.RequireFinite("loss", [loss]);

            var writer = new SafetensorsWriter();
            bool float64 = session.Backend.Precision == Precision.Float64;
            foreach (var p in session.Network.Parameters.All)
            {
                var grad = new double[p.Length];
                session.Backend.CopyOut(p.Grad, grad);
                ModelSession.RequireFinite($"gradient of '{p.Name}'", grad);
                long[] shape = p.Shape.ToArray();
                if (float64)
                    writer.Add(p.Name, shape, grad);
                else
                    writer.Add(p.Name, shape, Array.ConvertAll(grad, g => (float)g));
            }
            if (float64)
                writer.Add("loss", [], [loss]);
            else
                writer.Add("loss", [], [(float)loss]);
            writer.Write(r.GetValue(output)!);
            stdout.WriteLine($"loss {loss:R} on {session.Backend.Name}; gradients written to {r.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
