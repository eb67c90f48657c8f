using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using KernelLab.Reports;

namespace KernelLab.Tests;

/// <summary>
/// report.html opened as a person would: in headless Chromium (Debian's chromium), it loads with no console message and
/// every chart image decodes at its size. A copy of the page carries a small script that writes what the browser decoded
/// into the page, which --dump-dom prints; the console goes to stderr through Chromium's logging.
/// </summary>
public sealed partial class ReportInBrowserTests : SuiteTestBase
{
    private const string Probe = """
        <script>
        const problems = [];
        addEventListener('error', e => problems.push(e.message || ('could not load ' + (e.target && e.target.tagName))), true);
        addEventListener('load', async () => {
          const images = [...document.images];
          await Promise.all(images.map(i => i.decode().catch(e => problems.push('could not decode ' + i.alt + ': ' + e))));
          const out = document.createElement('pre');
          out.id = 'kernellab-probe';
          out.textContent = JSON.stringify({ problems, images: images.map(i => ({ alt: i.alt, width: i.naturalWidth, height: i.naturalHeight })) });
          document.body.appendChild(out);
        });
        </script>
        """;

    [Fact]
    public void ReportLoadsWithNoConsoleMessageAndEveryChartDecodes()
    {
        string dir = ReportTests.EveryChartFolder(Temp("all"));
        var (code, _, stderr) = Cli("report", dir);
        Assert.True(code == 0, stderr);
        string html = File.ReadAllText(Path.Combine(dir, "report.html"));
        string page = Path.Combine(dir, "probe.html");
        File.WriteAllText(page, html.Replace("<head>\n", "<head>\n" + Probe + "\n"));

        var (dom, log) = Chromium("--dump-dom", "--virtual-time-budget=10000", new Uri(page).AbsoluteUri);
        var console = log.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal)).ToList();
        Assert.True(console.Count == 0, "console: " + string.Join(" | ", console));
        var match = ProbeOutput().Match(dom);
        Assert.True(match.Success, "the page's probe wrote nothing: " + dom[..Math.Min(dom.Length, 400)]);
        using var result = JsonDocument.Parse(WebUtility.HtmlDecode(match.Groups[1].Value));
        Assert.Empty(result.RootElement.GetProperty("problems").EnumerateArray());
        var images = result.RootElement.GetProperty("images").EnumerateArray()
            .Select(i => (Alt: i.GetProperty("alt").GetString(), Width: i.GetProperty("width").GetInt32(), Height: i.GetProperty("height").GetInt32())).ToList();
        Assert.Equal(Report.ChartNames.Count, images.Count);
        Assert.All(images, i => Assert.True(i.Width == Chart.Width && i.Height > 0, $"{i.Alt}: {i.Width}x{i.Height}"));
    }

    [GeneratedRegex("<pre id=\"kernellab-probe\">(.*?)</pre>", RegexOptions.Singleline)]
    private static partial Regex ProbeOutput();

    /// <summary>Headless Chromium with its own profile: what it printed, and its log. Skips where chromium is not installed.</summary>
    private (string Stdout, string Stderr) Chromium(params string[] args)
    {
        string[] headless = ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--enable-logging=stderr", "--v=0", $"--user-data-dir={Temp("chromium-profile")}"];
        var (code, stdout, stderr) = ExternalTool.Run("chromium", [.. headless, .. args], "install Debian's chromium, as .ci/run does");
        Assert.True(code == 0, $"chromium exited with {code}: {stderr}");
        return (stdout, stderr);
    }
}
