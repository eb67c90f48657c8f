using KernelLab.Results;
using ScottPlot;

namespace KernelLab.Reports;

/// <summary>One seed's curves of a training-to-target run of a workload on a backend, and the metric it trained to.</summary>
public sealed record TrainingRun(string Workload, string Backend, ulong Seed, string Metric, double Target, TrainingCurves Curves);

/// <summary>
/// Training-to-target runs: per workload, the training loss against the step beside the validation metric against the step
/// with the target dashed; one line per backend and seed, the seeds of a backend in its colour.
/// </summary>
public static class TrainingCurvesChart
{
    public static IReadOnlyList<Plot> Draw(IReadOnlyList<TrainingRun> runs, BackendColors colors)
    {
        var panels = new List<Plot>();
        foreach (var workload in runs.GroupBy(r => r.Workload))
        {
            var first = workload.First();
            var loss = Chart.Panel($"{workload.Key}: training loss", "training step", "cross-entropy, nats");
            string metric = first.Metric == "accuracy" ? "test accuracy" : "validation loss, nats per token";
            var validation = Chart.Panel($"{workload.Key}: {metric}", "training step", metric);
            foreach (var backend in workload.GroupBy(r => r.Backend))
            {
                bool named = false;
                foreach (var run in backend)
                {
                    Line(loss, run.Curves.TrainingLoss, colors[run.Backend], named ? null : run.Backend, markers: false);
                    Line(validation, run.Curves.Validation, colors[run.Backend], named ? null : run.Backend, markers: true);
                    named = true;
                }
            }
            validation.Add.HorizontalLine(first.Target, 1.5f, Colors.DarkRed, LinePattern.Dashed).LegendText = $"target {Chart.Number(first.Target)}";
            // Clear of the curves: a loss falls towards the lower right, an accuracy rises towards the upper right.
            loss.ShowLegend(Alignment.UpperRight);
            validation.ShowLegend(first.Metric == "accuracy" ? Alignment.LowerRight : Alignment.UpperRight);
            panels.AddRange([loss, validation]);
        }
        return panels;
    }

    private static void Line(Plot plot, Curve curve, Color color, string? legend, bool markers)
    {
        int n = Math.Min(curve.Steps.Count, curve.Values.Count);
        var line = plot.Add.ScatterLine(curve.Steps.Take(n).Select(s => (double)s).ToArray(), curve.Values.Take(n).ToArray());
        line.Color = color;
        line.LineWidth = 1.5f;
        line.MarkerSize = markers ? 6 : 0;
        if (legend is not null)
            line.LegendText = legend;
    }
}
