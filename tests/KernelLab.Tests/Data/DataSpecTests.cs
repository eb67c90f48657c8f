using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Data;

namespace KernelLab.Tests.Data;

/// <summary>A workload's "data" object, and whether its model can read the data set, checked before anything runs.</summary>
public sealed class DataSpecTests
{
    private const string Source = "suite.json: workloads[0] ('fashion-mlp')";

    private static DataSpec Parse(string json)
    {
        using var doc = JsonDocument.Parse(json.Replace('\'', '"'));
        return DataSpec.Parse(doc.RootElement, $"{Source}: 'data'");
    }

    [Fact]
    public void ParsesBothDatasetsWithoutTouchingTheirFiles()
    {
        Assert.Equal(new FashionMnistSpec(5000, "/usr/share/datasets/fashion-mnist"), Parse("{'dataset': 'fashion-mnist', 'validation': 5000}"));
        Assert.Equal(new FashionMnistSpec(1, "/no/such/folder"), Parse("{'dataset': 'fashion-mnist', 'validation': 1, 'path': '/no/such/folder'}"));
        var text = Assert.IsType<TextSpec>(Parse("{'dataset': 'text', 'files': ['/usr/share/games/fortunes', '/no/such/file'], 'validation_fraction': 0.05}"));
        Assert.Equal(["/usr/share/games/fortunes", "/no/such/file"], text.Files);
        Assert.Equal(0.05, text.ValidationFraction);
    }

    [Theory]
    [InlineData("[]", "'data': expected a JSON object, found an array")]
    [InlineData("{'validation': 5000}", "'data': 'dataset' is missing")]
    [InlineData("{'dataset': 'mnist'}", "'data': unknown dataset 'mnist': expected one of fashion-mnist, text")]
    [InlineData("{'dataset': 'fashion-mnist'}", "'data': 'validation' is missing")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 0}", "'data': 'validation' is 0, expected a positive integer")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 60000}", "'data': 'validation' is 60000, expected an integer in [1, 59999]")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 0.5}", "'data': 'validation' is 0.5, expected a positive integer")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 10, 'path': 3}", "'data': 'path' is 3, expected a string")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 10, 'path': ''}", "'data': 'path' is empty")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 10, 'files': []}", "'data': unknown field 'files': expected one of dataset, validation, path")]
    [InlineData("{'dataset': 'text', 'validation_fraction': 0.1}", "'data': 'files' is missing")]
    [InlineData("{'dataset': 'text', 'files': [], 'validation_fraction': 0.1}", "'data': 'files' has 0 entries, expected at least 1")]
    [InlineData("{'dataset': 'text', 'files': '/a', 'validation_fraction': 0.1}", "'data': 'files' must be an array of strings")]
    [InlineData("{'dataset': 'text', 'files': ['/a', 2], 'validation_fraction': 0.1}", "'data': 'files' must be an array of strings")]
    [InlineData("{'dataset': 'text', 'files': ['/a', ''], 'validation_fraction': 0.1}", "'data': 'files[1]' is empty")]
    [InlineData("{'dataset': 'text', 'files': ['/a']}", "'data': 'validation_fraction' is missing")]
    [InlineData("{'dataset': 'text', 'files': ['/a'], 'validation_fraction': 0}", "'data': 'validation_fraction' is 0, expected a number in (0, 1)")]
    [InlineData("{'dataset': 'text', 'files': ['/a'], 'validation_fraction': 1}", "'data': 'validation_fraction' is 1, expected a number in (0, 1)")]
    [InlineData("{'dataset': 'text', 'files': ['/a'], 'validation_fraction': '0.1'}", "'data': 'validation_fraction' is \"0.1\", expected a number")]
    [InlineData("{'dataset': 'text', 'files': ['/a'], 'validation_fraction': 0.1, 'validation': 5}", "'data': unknown field 'validation': expected one of dataset, files, validation_fraction")]
    public void ABadDataObjectIsOneLineNamingTheField(string json, string expected)
    {
        var e = Assert.Throws<KernelLabException>(() => Parse(json));
        Assert.StartsWith($"{Source}: {expected}", e.Message);
    }

    private static readonly DataSpec Fashion = new FashionMnistSpec(5000, FashionMnistSpec.DefaultFolder);
    private static readonly DataSpec Text = new TextSpec(["/usr/share/games/fortunes"], 0.05);

    public static TheoryData<string, ModelConfig, string?> Models => new()
    {
        { "fashion", new MlpConfig([784, 128, 10]), null },
        { "fashion", new CnnConfig(1, 28, 28, [8, 16], 3, 32, 10), null },
        { "fashion", new MlpConfig([100, 10]), "sizes[0] is 100, but fashion-mnist images have 784 pixels" },
        { "fashion", new MlpConfig([784, 64, 5]), "sizes[2] is 5, but fashion-mnist has 10 classes" },
        { "fashion", new CnnConfig(3, 28, 28, [8], 3, 32, 10), "in_channels is 3, but fashion-mnist images have 1 channel" },
        { "fashion", new CnnConfig(1, 32, 28, [8], 3, 32, 10), "height and width are 32 and 28, but fashion-mnist images are 28x28" },
        { "fashion", new CnnConfig(1, 28, 28, [8], 3, 32, 7), "classes is 7, but fashion-mnist has 10 classes" },
        { "fashion", new LstmConfig(256, 8, 8, 1), "family is 'lstm', but fashion-mnist holds images: expected mlp or cnn" },
        { "text", new LstmConfig(256, 8, 8, 1), null },
        { "text", new TransformerConfig(300, 64, 16, 2, 1, 32), null },
        { "text", new MlpConfig([784, 10]), "family is 'mlp', but text is a sequence of bytes: expected a sequence model" },
        { "text", new TransformerConfig(100, 64, 16, 2, 1, 32), "vocab is 100, but text is read as bytes: expected at least 256" },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void TheModelMustReadTheDataSet(string dataset, ModelConfig model, string? problem)
    {
        var spec = dataset == "fashion" ? Fashion : Text;
        if (problem is null)
        {
            DataSpec.CheckModel(spec, model, Source);
            return;
        }
        var e = Assert.Throws<KernelLabException>(() => DataSpec.CheckModel(spec, model, Source));
        Assert.Equal($"{Source}: 'model': {problem}", e.Message);
    }
}
