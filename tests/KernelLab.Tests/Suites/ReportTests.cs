using System.Xml.Linq;
using KernelLab.Backends;
using KernelLab.Backends.Conformance;
using KernelLab.Reports;
using KernelLab.Results;
using SkiaSharp;

namespace KernelLab.Tests;

/// <summary>
/// report: each chart that the results hold data for, as well-formed SVG and a PNG that decodes, named after the chart; the
/// speedup over --baseline; the roofline's points; a self-contained HTML page and Markdown with the tables.
/// </summary>
public sealed class ReportTests : SuiteTestBase
{
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "results", name);

    private static readonly string Sample = Fixture("sample-results.json");

    private string EveryChartFolder() => EveryChartFolder(Temp("all"));

    /// <summary>A results folder holding the fixtures' results (sweeps merged with training) and the ops file beside them: data for every chart.</summary>
    public static string EveryChartFolder(string dir)
    {
        Directory.CreateDirectory(dir);
        var sweeps = ResultsFile.Load(Fixture("sweep-results.json"));
        var training = ResultsFile.Load(Fixture("training-results.json"));
        ResultsFile.Write(Path.Combine(dir, ResultsFile.FileName), sweeps with { Runs = [.. sweeps.Runs, .. training.Runs] });
        File.Copy(Fixture("ops-cpu-simd.json"), Path.Combine(dir, ResultsFile.OpsFileName("cpu-simd")));
        return dir;
    }

    [Fact]
    public void EveryChartIsWrittenAsSvgAndPngNamedAfterIt()
    {
        string dir = EveryChartFolder();
        var (code, stdout, stderr) = Cli("report", dir);
        Assert.True(code == 0, stderr);
        foreach (string chart in Report.ChartNames)
        {
            foreach (string file in new[] { chart + ".svg", chart + ".png" })
                Assert.Contains(Path.Combine(dir, file), stdout);
            AssertChartFiles(dir, chart);
        }
    }

    [Fact]
    public void OnlyTheChartsTheDataHoldsAreDrawn()
    {
        string dir = Temp("run");
        Directory.CreateDirectory(dir);
        File.Copy(Sample, Path.Combine(dir, ResultsFile.FileName));
        foreach (string stale in new[] { "roofline.svg", "roofline.png" }) // from an earlier report with an ops file
            File.WriteAllText(Path.Combine(dir, stale), "old");
        var (code, _, stderr) = Cli("report", dir);
        Assert.True(code == 0, stderr);
        // The sample times only the reference: no speedup, no sweep, no ops, no training.
        Assert.Equal(["peak-share.png", "peak-share.svg", "step-time.png", "step-time.svg"],
            Directory.GetFiles(dir, "*.*").Select(Path.GetFileName).Where(f => f!.EndsWith(".svg") || f.EndsWith(".png")).Order());
        AssertChartFiles(dir, "step-time");
    }

    [Fact]
    public void SpeedupIsTheBaselinesStepTimeOverEachBackends()
    {
        var results = ResultsFile.Load(Sample);
        var report = new Report([("a", results), ("b", Faster(results, "fast", 4))], baseline: "reference");
        var values = report.SpeedupValues();
        Assert.Equal(8, values.Count);
        Assert.All(values.Where(v => v.Key.Series == "reference"), v => Assert.Equal(1, v.Value.Value, 12));
        Assert.All(values.Where(v => v.Key.Series == "fast"), v => Assert.Equal(4, v.Value.Value, 12));

        var over = new Report([("a", results), ("b", Faster(results, "fast", 4))], baseline: "fast");
        Assert.All(over.SpeedupValues().Where(v => v.Key.Series == "reference"), v => Assert.Equal(0.25, v.Value.Value, 12));
    }

    [Fact]
    public void CliDrawsTheSpeedupOverTheBaselineItIsGiven()
    {
        string dir = Temp("run"), other = Temp("other");
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(other);
        var results = ResultsFile.Load(Sample);
        File.Copy(Sample, Path.Combine(dir, ResultsFile.FileName));
        ResultsFile.Write(Path.Combine(other, ResultsFile.FileName), Faster(results, "fast", 4));
        var (code, _, stderr) = Cli("report", dir, "--with", other, "--baseline", "fast");
        Assert.True(code == 0, stderr);
        AssertChartFiles(dir, "speedup");
        Assert.Contains("Speedup over fast", File.ReadAllText(Path.Combine(dir, "report.md")));
    }

    [Fact]
    public void PyTorchIsTheDefaultBaselineWhereItIsMerged()
    {
        var results = ResultsFile.Load(Sample);
        Assert.Equal("reference", new Report([("a", results)]).Baseline);
        Assert.Equal("pytorch-cpu", new Report([("a", results), ("torch", Faster(results, "pytorch-cpu", 2))]).Baseline);
        Assert.Equal("reference", new Report([("a", results), ("torch", Faster(results, "pytorch-cpu", 2))], baseline: "reference").Baseline);
    }

    [Fact]
    public void UnknownBaselineIsOneLine()
    {
        string dir = Temp("run");
        Directory.CreateDirectory(dir);
        File.Copy(Sample, Path.Combine(dir, "results.json"));
        AssertOneLineError(Cli("report", dir, "--baseline", "cuda"), "--baseline cuda", "no timed run");
        Assert.False(File.Exists(Path.Combine(dir, "report.html")));
    }

    /// <summary>A GEMM of 64x64 by 64x64 in float32: 2*64^3 FLOP; A and B read, C written (read too when it accumulates).</summary>
    [Fact]
    public void GemmIntensityByHand()
    {
        var gemm = OpCases.Gemm(64, 64, 64, transposeA: false, transposeB: false, accumulate: false);
        Assert.Equal(524288, gemm.Flop);
        Assert.Equal(3 * 64 * 64 * 4, gemm.Bytes(Precision.Float32));
        Assert.Equal(3 * 64 * 64 * 8, gemm.Bytes(Precision.Float64));
        Assert.Equal(4 * 64 * 64 * 4, OpCases.Gemm(64, 64, 64, false, false, accumulate: true).Bytes(Precision.Float32));
        // a = a + b: a read and written, b read.
        Assert.Equal(3 * 100 * 4, OpCases.Add(100, intoA: true).Bytes(Precision.Float32));
        Assert.Equal(0, OpCases.Fill(100).Flop);
    }

    [Fact]
    public void RooflinePointsAndCeilingsFromAnOpsFile()
    {
        var ops = ResultsFile.LoadOps(Fixture("ops-cpu-simd.json"));
        var report = new Report([], ops: [("ops", ops)]);
        var points = report.RooflinePoints();
        // fill (no arithmetic) and the layernorm that failed its check are left off.
        Assert.Equal(["gemm", "Relu"], points.Select(p => p.Op));
        var gemm = points[0];
        Assert.Equal(524288.0 / 49152, gemm.Intensity, 12);            // 10.67 FLOP per byte
        Assert.Equal(524288 / 0.01e-3 / 1e9, gemm.Gflops, 9);          // 52.4 GFLOP/s in 0.01 ms
        var roof = Assert.Single(report.Roofs());
        Assert.Equal((120, 12, 10), (roof.PeakGflops, roof.CopyGbps, roof.Ridge));
        Assert.Contains(report.Charts(), c => c.Name == "roofline");
    }

    [Fact]
    public void AnOpsFileSaysWhereAStepsTimeGoes()
    {
        var ops = ResultsFile.LoadOps(Fixture("ops-cpu-simd.json"));
        string dir = Temp("step-ops");
        new Report([], ops: [("ops", ops)]).WriteTo(dir);
        string md = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("## Where a step's time goes", md);
        // gemm 2 x 0.01 ms and Relu 1 x 0.02 ms of the mlp step's 0.041 ms; the layernorm that failed has no time.
        Assert.Contains("| cpu-simd | mlp | gemm | 2 | 0.02 | 48.8 % |", md);
        Assert.Contains("| cpu-simd | mlp | fill | 1 | 0.001 | 2.4 % |", md);
        Assert.DoesNotContain("| mlp | layernorm |", md);
    }

    [Fact]
    public void SweptRunsAreNamedByTheirValueAndDrawnAsScaling()
    {
        var report = new Report([("sweeps", ResultsFile.Load(Fixture("sweep-results.json")))]);
        Assert.Equal(["mlp-batch batch=16", "mlp-batch batch=32", "mlp-batch batch=64", "mlp-batch batch=128", "mlp-threads threads=1", "mlp-threads threads=2"],
            report.Workloads);
        var scaling = Assert.Single(report.Charts(), c => c.Name == "scaling");
        Assert.Equal(2, scaling.Panels.Count); // one against the batch, one against the threads
        Assert.Equal(10, report.ScalingPoints().Count);
    }

    [Fact]
    public void TrainingCurvesAreReadFromEachSeed()
    {
        var report = new Report([("fashion", ResultsFile.Load(Fixture("training-results.json")))]);
        var runs = report.TrainingRuns();
        Assert.Equal([1UL, 2UL], runs.Select(r => r.Seed));
        Assert.All(runs, r => Assert.Equal(("fashion-mlp", "cpu-simd", "accuracy", 0.85), (r.Workload, r.Backend, r.Metric, r.Target)));
        Assert.Equal(21, runs[0].Curves.TrainingLoss.Steps.Count);
        Assert.Equal([500L, 1000, 1500, 2000], runs[0].Curves.Validation.Steps);
        var chart = Assert.Single(report.Charts());
        Assert.Equal(("training-curves", 2), (chart.Name, chart.Panels.Count));
    }

    [Fact]
    public void CliWritesASelfContainedHtmlAndMarkdownWithTheCharts()
    {
        string dir = EveryChartFolder();
        var (code, _, stderr) = Cli("report", dir, "--with", Sample);
        Assert.True(code == 0, stderr);

        string html = File.ReadAllText(Path.Combine(dir, "report.html"));
        Assert.Equal(Report.ChartNames.Count, html.Split("<img ").Length - 1);
        Assert.Equal(Report.ChartNames.Count, html.Split("src=\"data:image/svg+xml;base64,").Length - 1);
        Assert.Equal(Report.ChartNames.Count, html.Split("src=").Length - 1); // every image inline, nothing fetched
        foreach (string outside in new[] { "<script", "<link", "href=", "@import", "url(" })
            Assert.DoesNotContain(outside, html);
        Assert.Contains("pass 0.0e+00", html);
        Assert.Contains("FAIL (error)", html);
        Assert.Contains("CL_BUILD_PROGRAM_FAILURE", html);
        Assert.Contains("AMD EPYC", html);
        Assert.Contains("layernorm rows=64 cols=128: dx", html); // the op that failed its check

        string md = File.ReadAllText(Path.Combine(dir, "report.md"));
        foreach (string chart in Report.ChartNames)
            Assert.Contains($"]({chart}.png)", md);
        Assert.Contains("| workload | reference | cpu-simd | cuda | opencl |", md);
        Assert.Contains("| mlp | pass 0.0e+00 | - | unavailable | FAIL (error) |", md);
        Assert.Contains("| mlp-threads threads=2 | cpu-simd |", md);
        Assert.Contains("| fashion-mlp | cpu-simd | 2 | accuracy | 0.85 |", md);
    }

    [Fact]
    public void MissingFontIsOneLineNamingTheFontAndThePackage()
    {
        var e = Assert.Throws<KernelLabException>(() => ChartFont.Resolve(Temp("DejaVuSans.ttf"), () => null));
        Assert.Contains("DejaVu Sans", e.Message);
        Assert.Contains("fonts-dejavu-core", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // fontconfig's substitute for a missing family is not taken for it.
        Assert.Throws<KernelLabException>(() => ChartFont.Resolve(Temp("DejaVuSans.ttf"), () => "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"));
        Assert.Equal(ChartFont.RegularPath, ChartFont.Resolve(ChartFont.RegularPath, () => null));
    }

    /// <summary>NAME.svg is well-formed XML with the chart's text; NAME.png decodes to an image of the chart's size.</summary>
    private static void AssertChartFiles(string dir, string chart)
    {
        var svg = XDocument.Load(Path.Combine(dir, chart + ".svg"));
        Assert.Equal("svg", svg.Root!.Name.LocalName);
        Assert.Contains(svg.Descendants().Where(e => e.Name.LocalName == "text"), t => t.Value.Length > 0);
        using var png = SKBitmap.Decode(Path.Combine(dir, chart + ".png"));
        Assert.NotNull(png);
        Assert.True(png.Width > 0 && png.Height > 0, $"{chart}.png is {png.Width}x{png.Height}");
    }

    /// <summary>The sample's timed runs as another backend <paramref name="factor"/> times faster.</summary>
    private static ResultsDocument Faster(ResultsDocument results, string backend, double factor) => results with
    {
        Runs = [.. results.Runs.Where(r => r.IsOk).Select(r => r with
        {
            Backend = backend,
            Throughput = r.Throughput! with { StepMsMedian = r.Throughput.StepMsMedian / factor, StepMsP10 = null, StepMsP90 = null },
        })],
    };
}
