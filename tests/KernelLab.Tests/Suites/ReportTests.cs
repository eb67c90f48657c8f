using System.Xml.Linq;
using KernelLab.Reports;
using KernelLab.Results;

namespace KernelLab.Tests;

/// <summary>report: well-formed SVG charts with a bar per timed run and the expected labels, a self-contained HTML page, and Markdown with the tables.</summary>
public sealed class ReportTests : SuiteTestBase
{
    private static readonly string Sample = Path.Combine(AppContext.BaseDirectory, "fixtures", "results", "sample-results.json");

    private static Report SampleReport() => new([(Sample, ResultsFile.Load(Sample))]);

    [Fact]
    public void StepTimeChartHasABarPerTimedRunAndItsLabels()
    {
        var svg = XDocument.Parse(SampleReport().StepTime().ToSvg());
        XNamespace ns = "http://www.w3.org/2000/svg";
        var bars = svg.Descendants(ns + "rect").Where(r => (string?)r.Attribute("class") == "bar").ToList();
        Assert.Equal(4, bars.Count);
        Assert.Equal(["mlp", "cnn", "lstm", "transformer"], bars.Select(b => (string)b.Attribute("data-category")!));
        Assert.All(bars, b => Assert.Equal("reference", (string)b.Attribute("data-series")!));
        Assert.All(bars, b => Assert.True(double.Parse((string)b.Attribute("height")!, System.Globalization.CultureInfo.InvariantCulture) > 0));
        var texts = svg.Descendants(ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("Step time per workload", texts);
        Assert.Contains("ms per training step", texts);
        Assert.Contains("transformer", texts);
        Assert.Contains("reference", texts); // legend
    }

    [Fact]
    public void SpeedupIsOneForTheBaselineAndTheRatioForOthers()
    {
        var results = ResultsFile.Load(Sample);
        var faster = results with
        {
            Runs = results.Runs.Where(r => r.IsOk).Select(r => r with
            {
                Backend = "fast",
                Throughput = r.Throughput! with { StepMsMedian = r.Throughput.StepMsMedian / 4, StepMsP10 = null, StepMsP90 = null },
            }).ToList(),
        };
        var report = new Report([("a", results), ("b", faster)], baseline: "reference");
        var svg = XDocument.Parse(report.Speedup().ToSvg());
        var values = svg.Descendants().Where(e => (string?)e.Attribute("class") == "bar")
            .ToDictionary(e => ((string)e.Attribute("data-category")!, (string)e.Attribute("data-series")!), e => double.Parse((string)e.Attribute("data-value")!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(8, values.Count);
        Assert.All(values.Where(v => v.Key.Item2 == "reference"), v => Assert.Equal(1, v.Value, 12));
        Assert.All(values.Where(v => v.Key.Item2 == "fast"), v => Assert.Equal(4, v.Value, 12));
    }

    [Fact]
    public void CliWritesASelfContainedHtmlAndMarkdownWithTheCharts()
    {
        string dir = Temp("run");
        Directory.CreateDirectory(dir);
        File.Copy(Sample, Path.Combine(dir, "results.json"));
        var (code, stdout, stderr) = Cli("report", dir);
        Assert.True(code == 0, stderr);
        foreach (string file in new[] { "report.md", "report.html", "step-time.svg", "speedup.svg", "peak-share.svg" })
        {
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
            Assert.Contains(file, stdout);
        }
        foreach (string svg in Directory.GetFiles(dir, "*.svg"))
            XDocument.Load(svg); // well-formed

        string html = File.ReadAllText(Path.Combine(dir, "report.html"));
        Assert.Equal(3, html.Split("<svg ").Length - 1);
        foreach (string outside in new[] { "<script", "<link", "src=", "href=", "@import", "url(" })
            Assert.DoesNotContain(outside, html);
        Assert.Contains("pass 0.0e+00", html);
        Assert.Contains("FAIL (error)", html);
        Assert.Contains("CL_BUILD_PROGRAM_FAILURE", html);
        Assert.Contains("AMD EPYC", html);

        string md = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("![Step time per workload](step-time.svg)", md);
        Assert.Contains("| workload | reference | cuda | opencl |", md);
        Assert.Contains("| mlp | pass 0.0e+00 | unavailable | FAIL (error) |", md);
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
}
