using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Backends.Reference;
using KernelLab.Models.Training;

namespace KernelLab.Tests;

/// <summary>
/// The learning-rate schedules against torch.optim.lr_scheduler (tests/fixtures/golden/schedules.json, written by
/// tools/torch_golden.py): every rate over 20 steps, and ReduceLROnPlateau's after each of a fixed sequence of validation losses.
/// </summary>
public sealed class ScheduleTests
{
    private static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "fixtures", "golden", "schedules.json");

    public static TheoryData<string> Names => new(Cases().Select(c => c.GetProperty("schedule").GetProperty("name").GetString()!));

    private static List<JsonElement> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixture));
        return [.. doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.Clone())];
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void RatesMatchPyTorch(string name)
    {
        var c = Cases().Single(c => c.GetProperty("schedule").GetProperty("name").GetString() == name);
        double lr = c.GetProperty("lr").GetDouble();
        double[] expected = [.. c.GetProperty("lrs").EnumerateArray().Select(e => e.GetDouble())];
        var schedule = LearningRateSchedule.Parse(JsonDocument.Parse($"{{\"schedule\": {c.GetProperty("schedule").GetRawText()}}}").RootElement, Fixture)!;

        using var backend = new ReferenceBackend();
        using var optimizer = new Optimizer(backend, [], OptimizerSettings.Defaults(OptimizerKind.Sgd, lr), schedule);
        var rates = new double[expected.Length];
        if (c.TryGetProperty("validation_losses", out var losses))
        {
            int i = 0;
            foreach (var loss in losses.EnumerateArray())
            {
                optimizer.Evaluated(loss.GetDouble());
                rates[i++] = optimizer.LearningRate;
            }
        }
        else
        {
            for (int i = 0; i < rates.Length; i++)
            {
                rates[i] = optimizer.LearningRate;
                optimizer.Update();
            }
        }
        var result = TensorComparison.Compare($"{name} learning rates", rates, expected, 1e-12);
        Assert.True(result.Passed, $"{result}: {string.Join(", ", rates)} vs {string.Join(", ", expected)}");
        Assert.True(expected.Distinct().Count() > 2, $"{name}: the case should change the rate more than once");
    }

    [Theory]
    [InlineData("{\"name\": \"linear\"}", "unknown schedule \"linear\"")]
    [InlineData("{\"name\": \"step\", \"step_size\": 2, \"gamma\": 1}", "'gamma' is 1, expected a number in (0, 1)")]
    [InlineData("{\"name\": \"step\", \"gamma\": 0.5}", "'step_size' is missing")]
    [InlineData("{\"name\": \"cosine\", \"t_max\": 0}", "'t_max' is 0, expected a positive integer")]
    [InlineData("{\"name\": \"cosine\", \"t_max\": 5, \"eta_min\": -1}", "'eta_min' is -1")]
    [InlineData("{\"name\": \"plateau\", \"factor\": 0.5, \"patience\": -1}", "'patience' is -1, expected an integer >= 0")]
    [InlineData("{\"name\": \"cosine\", \"t_max\": 5, \"tmax\": 5}", "unknown field 'tmax'")]
    public void ABadScheduleIsOneLineNamingTheField(string json, string expected)
    {
        var e = Assert.Throws<KernelLabException>(() => LearningRateSchedule.ParseText(json, "--schedule"));
        Assert.StartsWith("--schedule: 'schedule'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AnOptimizerFieldNotKnownIsAnErrorNotIgnored()
    {
        var e = Assert.Throws<KernelLabException>(() => Optimizer.ParseSettings(JsonDocument.Parse("{\"name\": \"sgd\", \"lr\": 0.1, \"l2\": 0.01}").RootElement, "suite.json: 'optimizer'"));
        Assert.Contains("suite.json: 'optimizer': unknown field 'l2'", e.Message);
    }
}
