using KernelLab.Backends;
using KernelLab.Backends.Reference;

namespace KernelLab.Tests;

/// <summary>
/// The reference's network gradients against central finite differences of its own loss, in float64: for
/// every parameter tensor of every family, the element of largest gradient and a few random ones.
/// </summary>
public sealed class FamilyFiniteDifferenceTests
{
    private const double Step = 1e-5;
    private const int RandomElements = 3;

    [Theory]
    [MemberData(nameof(GoldenCase.Names), MemberType = typeof(GoldenCase))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var golden = GoldenCase.Load(name);
        using var backend = new ReferenceBackend();
        using var network = golden.Open(backend);
        var (_, grads) = NetworkResults.Gradients(network);
        var random = new Random(Array.IndexOf(GoldenCase.All, name)); // a fixed seed per case, so a failure reproduces
        double scale = grads.Values.Max(g => TensorComparison.Scale(g)); // what a vanishing gradient's noise is measured on

        foreach (var p in network.Parameters.All)
        {
            double[] analytic = grads[p.Name];
            double[] values = backend.Download(p.Value);
            int largest = Array.IndexOf(analytic, analytic.MaxBy(Math.Abs));
            int[] elements = [largest, .. Enumerable.Range(0, RandomElements).Select(_ => random.Next(values.Length))];

            var numeric = new double[elements.Length];
            for (int e = 0; e < elements.Length; e++)
                numeric[e] = CentralDifference(network, p, values, elements[e]);

            var expected = elements.Select(i => analytic[i]).ToArray();
            NetworkResults.AssertMatches(TensorComparison.Compare($"{p.Name} at {string.Join(",", elements)}", expected, numeric, TensorComparison.Float64Tolerance,
                p.GradientVanishes ? scale : null));
        }
    }

    private static double CentralDifference(KernelLab.Models.Networks.Network network, KernelLab.Models.Parameter p, double[] values, int i)
    {
        double original = values[i];
        values[i] = original + Step;
        network.Backend.CopyIn(p.Value, values);
        double plus = network.ComputeLoss();
        values[i] = original - Step;
        network.Backend.CopyIn(p.Value, values);
        double minus = network.ComputeLoss();
        values[i] = original;
        network.Backend.CopyIn(p.Value, values);
        return (plus - minus) / (2 * Step);
    }
}
