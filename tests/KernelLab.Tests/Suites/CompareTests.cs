using KernelLab.Suites;
using KernelLab.Results;

namespace KernelLab.Tests;

/// <summary>compare's arithmetic: the ratio of medians, its seeded bootstrap interval, and the regression flag and exit code.</summary>
public sealed class CompareTests : SuiteTestBase
{
    [Fact]
    public void ConstantSamplesGiveAnExactRatioAndInterval()
    {
        var (ratio, low, high) = Statistics.MedianRatio([10, 10, 10, 10], [12, 12, 12]);
        Assert.Equal(1.2, ratio, 12);
        Assert.Equal(1.2, low, 12);
        Assert.Equal(1.2, high, 12);
    }

    [Fact]
    public void RatioOfMediansAndAnIntervalAroundIt()
    {
        double[] before = [9, 10, 11, 10, 10.5, 9.5, 10, 10.2, 9.8, 10];
        double[] after = before.Select(x => x * 1.5).ToArray();
        var (ratio, low, high) = Statistics.MedianRatio(before, after);
        Assert.Equal(1.5, ratio, 12); // medians 10 and 15
        Assert.InRange(low, 1.3, 1.5);
        Assert.InRange(high, 1.5, 1.7);
        Assert.Equal((ratio, low, high), Statistics.MedianRatio(before, after)); // seeded: the same every time
    }

    [Fact]
    public void QuantilesInterpolateLikeNumpy()
    {
        double[] values = [4, 1, 3, 2, 5];
        Assert.Equal(3, Statistics.Median(values));
        Assert.Equal(1.4, Statistics.Quantile(values, 0.1), 12);
        Assert.Equal(4.6, Statistics.Quantile(values, 0.9), 12);
        Assert.Equal(2.5, Statistics.Median([1, 2, 3, 4]));
    }

    [Fact]
    public void OverlappingSamplesAreWithinNoise()
    {
        double[] a = [10, 12, 9, 11, 10, 13, 8, 10];
        double[] b = [11, 9, 10, 12, 10, 8, 13, 10];
        var row = Row(a, b);
        Assert.False(row.BeyondNoise);
        Assert.False(row.IsRegression(0));
        Assert.Equal("within noise", row.Verdict);
    }

    [Fact]
    public void RegressionNeedsBothTheThresholdAndNoiseCleared()
    {
        double[] before = [10, 10.1, 9.9, 10, 10.05, 9.95];
        var slower = Row(before, before.Select(x => x * 1.2).ToArray());
        Assert.True(slower.BeyondNoise);
        Assert.Equal("slower", slower.Verdict);
        Assert.True(slower.IsRegression(10));
        Assert.False(slower.IsRegression(25));
        var faster = Row(before, before.Select(x => x * 0.8).ToArray());
        Assert.Equal("faster", faster.Verdict);
        Assert.False(faster.IsRegression(0));
    }

    [Fact]
    public void CliExitsNonZeroOnARegressionBeyondThePercentage()
    {
        string before = Write("before.json", [10, 10.1, 9.9, 10, 10.05, 9.95]);
        string after = Write("after.json", [12, 12.1, 11.9, 12, 12.05, 11.95]);
        var (code, stdout, stderr) = Cli("compare", before, after, "--fail-on-regression", "10");
        Assert.True(code == 3, stderr);
        Assert.Contains("mlp", stdout);
        Assert.Contains("1.200", stdout);
        Assert.Contains("REGRESSION > 10%", stdout);

        Assert.Equal(0, Cli("compare", before, after, "--fail-on-regression", "30").Code);
        Assert.Equal(0, Cli("compare", before, after).Code);
        Assert.Equal(0, Cli("compare", after, before, "--fail-on-regression", "0").Code);
    }

    private static ComparisonRow Row(double[] before, double[] after) =>
        Assert.Single(Comparison.Compare(Document(before), Document(after)));

    private string Write(string name, double[] samples)
    {
        string path = Temp(name);
        ResultsFile.Write(path, Document(samples));
        return path;
    }

    private static ResultsDocument Document(double[] samples) => new()
    {
        Schema = ResultsDocument.SchemaName,
        Suite = "test",
        Started = "2026-01-01T00:00:00Z",
        Machine = new MachineInfo { Os = "os", Cpu = "cpu", Cores = 2, Simd = "AVX2", Gpus = [], Dotnet = "10.0" },
        Runs =
        [
            new RunRecord
            {
                Workload = "mlp", Backend = "reference", Status = RunStatus.Ok,
                Throughput = new Throughput
                {
                    StepMsMedian = Statistics.Median(samples), StepMsMin = samples.Min(), StepMsMax = samples.Max(),
                    Steps = samples.Length, SamplesPerSecond = 1, Gflops = 1, SamplesMs = samples,
                },
            },
        ],
    };
}
