using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using static KernelLab.Tests.CliFiles;

namespace KernelLab.Tests;

/// <summary>
/// The reproducers of issue 15 that go through grad, train, init and batch: each is one line and exit 1 (2 for a
/// malformed command line), with no stack trace and no file left behind.
/// </summary>
public sealed partial class CliTests
{
    private const string LoneSurrogate = "\\ud800";

    [Theory]
    [InlineData("{\"family\": \"mlp\", \"sizes\": [13, \"\\ud800\", 5]}", "$.sizes[1]")]
    [InlineData("{\"family\": \"\\ud800\", \"sizes\": [13, 7, 5]}", "$.family")]
    [InlineData("{\"family\": \"mlp\", \"sizes\": [13, 7, 5], \"\\udfff\": 1}", "$")]
    [InlineData("{\"family\": \"mlp\", \"sizes\": [13, 7, 5], \"note\": \"\\ud800\\u0041\"}", "$.note")]
    public void LoneSurrogateInAConfig_IsOneLineWithItsPath(string json, string where)
    {
        string config = WriteText("surrogate.config.json", json);
        AssertInputRejected(Inputs.Of("mlp_a") with { Config = config }, config, $"a string at {where} is not valid Unicode");
    }

    [Theory]
    [InlineData("\"fc1.bias\"", "\"fc1.bias" + LoneSurrogate + "\"", "$")]
    [InlineData("\"dtype\":\"F32\"", "\"dtype\":\"F" + LoneSurrogate + "\"", "$.fc1.weight.dtype")]
    [InlineData("\"format\":\"pt\"", "\"format\":\"" + LoneSurrogate + "\"", "$.__metadata__.format")]
    [InlineData("\"format\":\"pt\"", "\"" + LoneSurrogate + "\":\"pt\"", "$.__metadata__")]
    public void LoneSurrogateInASafetensorsHeader_IsOneLineWithItsPath(string old, string replacement, string where)
    {
        byte[] bytes = File.ReadAllBytes(Golden("mlp_a.params.safetensors"));
        var (header, dataStart) = HeaderOf(bytes);
        Assert.Contains(old, header);
        byte[] edited = Encoding.UTF8.GetBytes(ReplaceFirst(header, old, replacement));
        byte[] file = [.. new byte[8], .. edited, .. bytes[dataStart..]];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)edited.Length);
        string parameters = WriteBytes("surrogate.safetensors", file);
        AssertInputRejected(Inputs.Of("mlp_a") with { Params = parameters }, parameters, "the header: invalid JSON", $"a string at {where} is not valid Unicode");
    }

    [Fact]
    public void ConfigOfMoreThan2Pow31Elements_IsOneLineNamingTheTensor()
    {
        string config = WriteText("big.config.json", "{\"family\": \"mlp\", \"sizes\": [39, 2000000000, 4]}");
        AssertCleanFailure(["init", "--config", config, "--out", OutPath], "parameter 'fc1.weight' of shape [2000000000, 39] has 78,000,000,000 elements", "more than one tensor can hold");
        AssertCleanFailure(["batch", "--config", Golden("mlp_a.config.json"), "--batch", "2000000000", "--out", OutPath], "the batch's x of shape [2000000000, 13]", "more than one tensor can hold");
        AssertCleanFailure(["batch", "--config", Golden("lstm_a.config.json"), "--batch", "2000000000", "--seq", "2", "--out", OutPath], "the batch's y of shape [2000000000, 2]");
    }

    [Fact]
    public void ConfigLargerThanTheMachine_IsOneLineWithBothFigures()
    {
        // 2000 layers of 46000x46000 float64 weights and their gradients: about 68 TB, more than any machine has, while each
        // tensor (2.1e9 elements) is within what one tensor may hold. The memory plan refuses it before anything is allocated.
        string sizes = string.Join(", ", Enumerable.Repeat(46000, 2001));
        string config = WriteText("huge.config.json", $"{{\"family\": \"mlp\", \"sizes\": [{sizes}]}}");
        var clock = Stopwatch.StartNew();
        string message = AssertCleanFailure(["init", "--config", config, "--out", OutPath], "a mlp model at batch 1 needs at least", "TB of memory on reference", "but the machine has", "available");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the check took {clock.Elapsed}: it should come before any allocation");
        Assert.Contains("parameters ", message);
    }

    [Fact]
    public void TooManyLayers_IsOneLine()
    {
        string config = WriteText("deep.config.json", "{\"family\": \"lstm\", \"vocab\": 5, \"embed\": 2, \"hidden\": 2, \"layers\": 2000000000}");
        AssertCleanFailure(["init", "--config", config, "--out", OutPath], config, "2000000000 layers is more than the 10000");
    }

    [Theory]
    [InlineData("--lr", "-1", "--lr -1: expected a finite number >= 0")]
    [InlineData("--lr", "NaN", "--lr NaN: expected a finite number >= 0")]
    [InlineData("--lr", "Infinity", "--lr Infinity: expected a finite number >= 0")]
    [InlineData("--weight-decay", "NaN", "--weight-decay NaN: expected a finite number >= 0")]
    [InlineData("--weight-decay", "-0.1", "--weight-decay -0.1: expected a finite number >= 0")]
    public void TrainRejectsOptimizerValuesThatTorchOptimRejects(string option, string value, string expected) =>
        AssertCleanFailure(With(TrainArgs(Inputs.Of("mlp_a")), option, value), expected);

    [Fact]
    public void TrainRejectsNaNMomentumAndNesterovWithoutMomentum()
    {
        string[] sgd = With(TrainArgs(Inputs.Of("mlp_a")), "--optimizer", "sgd");
        AssertCleanFailure([.. sgd, "--momentum", "NaN"], "--momentum NaN: expected a finite number >= 0");
        AssertCleanFailure([.. sgd, "--nesterov"], "--nesterov true: expected momentum > 0 and dampening 0");
    }

    [Fact]
    public void TrainRefusesLossesAndParametersIntoTheSameFile()
    {
        string[] args = With(TrainArgs(Inputs.Of("mlp_a")), "--out", LossesPath);
        AssertCleanFailure(args, "--losses and --out are the same file");
    }

    [Fact]
    public void BatchFileWithAnExtraTensor_IsRejectedAsAParameterFileWithOneIs()
    {
        string batch = Temp("extra.batch.safetensors");
        WriteTensors(batch, Edit(ReadTensors(Golden("mlp_a.batch.safetensors")), "add z"));
        AssertInputRejected(Inputs.Of("mlp_a") with { Batch = batch }, batch, "tensor 'z' is not part of a batch");
        string parameters = Temp("extra.params.safetensors");
        WriteTensors(parameters, Edit(ReadTensors(Golden("mlp_a.params.safetensors")), "add z"));
        AssertInputRejected(Inputs.Of("mlp_a") with { Params = parameters }, parameters, "tensor 'z' is not a parameter of this mlp model");
    }

    [Fact]
    public async Task ParamsOnAFifoWithNoWriter_IsOneLineNotAHang()
    {
        string fifo = Temp("params.fifo");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(0, mkfifo.ExitCode);
        }
        var grad = Task.Run(() => AssertCleanFailure(GradArgs(Inputs.Of("mlp_a") with { Params = fifo }), fifo, "is a pipe, socket or character device"),
            TestContext.Current.CancellationToken);
        await grad.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken); // a TimeoutException fails the test
    }
}
