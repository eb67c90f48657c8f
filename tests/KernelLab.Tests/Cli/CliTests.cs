using System.Globalization;
using System.Text;
using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Cli;
using KernelLab.Models.Safetensors;
using static KernelLab.Tests.CliFiles;

namespace KernelLab.Tests;

/// <summary>
/// The <c>kernellab</c> command line, run in-process: every bad input fails with one clear line and no output
/// file (MODELS.md, "Command line"), and the verbs write what they promise.
/// </summary>
public sealed partial class CliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kernellab-cli-" + Guid.NewGuid().ToString("N"));

    public CliTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string OutPath => Temp("G.safetensors");

    private string LossesPath => Temp("L.json");

    /// <summary>The three input files of grad and train, and the backend.</summary>
    private sealed record Inputs(string Config, string Params, string Batch, string Backend = "reference")
    {
        public static Inputs Of(string goldenCase) =>
            new(Golden($"{goldenCase}.config.json"), Golden($"{goldenCase}.params.safetensors"), Golden($"{goldenCase}.batch.safetensors"));
    }

    // ---------------------------------------------------------------- bad configs

    [Fact]
    public void MissingConfigFile()
    {
        string missing = Temp("nope.config.json");
        AssertInputRejected(Inputs.Of("mlp_a") with { Config = missing }, missing, "file not found");
    }

    [Fact]
    public void ConfigPathIsADirectory() =>
        AssertInputRejected(Inputs.Of("mlp_a") with { Config = _dir }, _dir, "directory");

    [Fact]
    public void EmptyConfigPath() =>
        AssertInputRejected(Inputs.Of("mlp_a") with { Config = "" }, "config", "empty");

    // Single quotes stand for double quotes, to keep the JSON readable.
    [Theory]
    [InlineData("mlp_a", "{'family': 'mlp', 'sizes': [13, 7, 5]", "invalid JSON")]
    [InlineData("mlp_a", "", "invalid JSON")]
    [InlineData("mlp_a", "[13, 7, 5]", "expected a JSON object")]
    [InlineData("mlp_a", "{'family': 'rnn'}", "unknown family 'rnn': expected one of mlp, cnn, lstm, gru, transformer")]
    [InlineData("mlp_a", "{'family': 3}", "'family' is 3, expected a string")]
    [InlineData("mlp_a", "{'sizes': [13, 5]}", "'family' is missing")]
    [InlineData("mlp_a", "{'family': 'mlp', 'sizes': [13]}", "'sizes' has 1 entries, expected at least 2")]
    [InlineData("mlp_a", "{'family': 'mlp', 'sizes': [13, 0, 5]}", "'sizes[1]' is 0, expected a positive integer")]
    [InlineData("mlp_a", "{'family': 'mlp', 'sizes': [13, -7, 5]}", "'sizes[1]' is -7, expected a positive integer")]
    [InlineData("mlp_a", "{'family': 'mlp', 'sizes': '13, 5'}", "'sizes' is \"13, 5\", expected an array of positive integers")]
    [InlineData("cnn_a", "{'family': 'cnn', 'in_channels': 2, 'height': 7, 'width': 10, 'channels': [3, 4], 'kernel_size': 4, 'hidden': 6, 'classes': 5}", "kernel_size 4 is not odd")]
    [InlineData("cnn_a", "{'family': 'cnn', 'in_channels': 2, 'height': 3, 'width': 10, 'channels': [3, 4], 'kernel_size': 3, 'hidden': 6, 'classes': 5}", "a 3x10 image pooled 2 times is empty")]
    [InlineData("cnn_a", "{'family': 'cnn', 'in_channels': 2, 'height': 7, 'width': 10, 'channels': [], 'kernel_size': 3, 'hidden': 6, 'classes': 5}", "'channels' has 0 entries, expected at least 1")]
    [InlineData("transformer_a", "{'family': 'transformer', 'vocab': 17, 'context': 8, 'd_model': 12, 'heads': 5, 'layers': 1, 'ffn': 20}", "heads 5 does not divide d_model 12")]
    [InlineData("transformer_a", "{'family': 'transformer', 'vocab': 17, 'context': 0, 'd_model': 12, 'heads': 3, 'layers': 1, 'ffn': 20}", "'context' is 0, expected a positive integer")]
    [InlineData("lstm_a", "{'family': 'lstm', 'vocab': '11', 'embed': 5, 'hidden': 7, 'layers': 1}", "'vocab' is \"11\", expected a positive integer")]
    [InlineData("lstm_a", "{'family': 'lstm', 'vocab': 11, 'embed': 5, 'hidden': 7, 'layers': 1.5}", "'layers' is 1.5, expected a positive integer")]
    [InlineData("lstm_a", "{'family': 'lstm', 'vocab': 11, 'embed': 5, 'layers': 1}", "'hidden' is missing")]
    public void BadConfig(string goldenCase, string json, string expected)
    {
        string config = WriteText("bad.config.json", json.Replace('\'', '"'));
        AssertInputRejected(Inputs.Of(goldenCase) with { Config = config }, config, expected);
    }

    // ---------------------------------------------------------------- backends

    [Fact]
    public void UnknownBackend() =>
        AssertInputRejected(Inputs.Of("mlp_a") with { Backend = "nope" },
            "unknown backend 'nope'", $"expected one of {string.Join(", ", BackendRegistry.Names)}");

    [Fact]
    public void UnavailableBackend_SaysWhy()
    {
        var unavailable = BackendRegistry.All.Where(e => !e.Probe().IsAvailable).ToList();
        if (unavailable.Count == 0)
            Assert.Skip("every backend is available here");
        foreach (var entry in unavailable)
            AssertInputRejected(Inputs.Of("mlp_a") with { Backend = entry.Name },
                $"backend '{entry.Name}' is unavailable", entry.Probe().Reason!);
    }

    public static TheoryData<string> OtherBackends => TestBackends.ComparedWithReference;

    /// <summary>Bad input, a bad device and a result that is not finite get the reference's one-line errors on every backend.</summary>
    [Theory]
    [MemberData(nameof(OtherBackends))]
    public void BadInput_SameOneLineErrorOnEveryBackend(string backend)
    {
        TestBackends.CreateOrSkip(backend).Dispose();
        var lstm = Inputs.Of("lstm_a") with { Backend = backend };
        string badIds = Temp("ids.batch.safetensors");
        WriteTensors(badIds, Edit(ReadTensors(lstm.Batch), "set x 0 11"));
        AssertInputRejected(lstm with { Batch = badIds }, badIds, "tensor 'x' holds id 11 at flat index 0, outside [0, 11) (vocab)");

        var mlp = Inputs.Of("mlp_a") with { Backend = backend };
        string nan = Temp("nan.params.safetensors");
        WriteTensors(nan, Edit(ReadTensors(mlp.Params), "set fc1.weight 0 NaN"));
        Assert.StartsWith("error: loss is ", AssertCleanFailure(GradArgs(mlp with { Params = nan }), "the result is not finite"));

        AssertCleanFailure(With(GradArgs(mlp), "--device", "no such device"), "no such device");
    }

    // ---------------------------------------------------------------- corrupt safetensors files

    [Fact]
    public void MissingParamsFile()
    {
        string missing = Temp("nope.params.safetensors");
        AssertInputRejected(Inputs.Of("mlp_a") with { Params = missing }, missing, "file not found");
    }

    [Fact]
    public void MissingBatchFile()
    {
        string missing = Temp("nope.batch.safetensors");
        AssertInputRejected(Inputs.Of("lstm_a") with { Batch = missing }, missing, "file not found");
    }

    /// <summary>Cut points: from the start of the file, of the data section, or back from the end.</summary>
    [Theory]
    [InlineData("start", 0, "truncated: the file is 0 bytes, shorter than the 8-byte header length")]
    [InlineData("start", 5, "truncated: the file is 5 bytes")]
    [InlineData("start", 8, "header length 296 is larger than the file (8 bytes)")]
    [InlineData("start", 100, "header length 296 is larger than the file (100 bytes)")]
    [InlineData("data", -1, "header length 296 is larger than the file")]
    [InlineData("data", 0, "truncated: tensor 'fc1.weight' ends at byte 364 of a 0-byte data section")]
    [InlineData("data", 363, "truncated: tensor 'fc1.weight' ends at byte 364 of a 363-byte data section")]
    [InlineData("end", 1, "truncated: tensor 'fc2.bias' ends at byte 552 of a 551-byte data section")]
    public void TruncatedParams(string from, int cut, string expected)
    {
        byte[] bytes = File.ReadAllBytes(Golden("mlp_a.params.safetensors"));
        int length = from switch
        {
            "start" => cut,
            "data" => HeaderOf(bytes).DataStart + cut,
            _ => bytes.Length - cut,
        };
        string path = WriteBytes("cut.params.safetensors", bytes[..length]);
        AssertInputRejected(Inputs.Of("mlp_a") with { Params = path }, path, expected);
    }

    [Fact]
    public void TruncatedBatch()
    {
        byte[] bytes = File.ReadAllBytes(Golden("transformer_a.batch.safetensors"));
        string path = WriteBytes("cut.batch.safetensors", bytes[..^8]);
        AssertInputRejected(Inputs.Of("transformer_a") with { Batch = path }, path, "truncated: tensor 'y' ends at byte 160");
    }

    [Theory]
    [InlineData("json", "the header: invalid JSON")]
    [InlineData("utf8", "the header is not valid UTF-8")]
    [InlineData("length=file", "header length 849 is larger than the file (856 bytes)")]
    [InlineData("length-max", "header length 18446744073709551615 is larger than the file")]
    [InlineData("not-object", "the header is an array [], expected a JSON object")]
    [InlineData("offsets", "tensor 'fc1.weight' holds 360 bytes (data_offsets [0, 360]), expected 364 for F32 of shape [7, 13]")]
    [InlineData("dtype", "tensor 'fc1.weight' has dtype 'BF16', expected F32, F64, I64 or I32")]
    public void CorruptParamsHeader(string corruption, string expected)
    {
        byte[] bytes = File.ReadAllBytes(Golden("mlp_a.params.safetensors"));
        string header = HeaderOf(bytes).Header;
        byte[] corrupt = corruption switch
        {
            "json" => WithHeader(bytes, header.Replace("\"fc1.bias\":", "\"fc1.bias\"")),
            "utf8" => Patch(bytes, 10, 0xFF),
            "length=file" => Patch(bytes, 0, BitConverter.GetBytes((ulong)bytes.Length - 7)),
            "length-max" => Patch(bytes, 0, BitConverter.GetBytes(ulong.MaxValue)),
            "not-object" => WithHeader(bytes, "[]"),
            "offsets" => WithHeader(bytes, header.Replace("[0,364]", "[0,360]")),
            "dtype" => WithHeader(bytes, ReplaceFirst(header, "\"F32\"", "\"BF16\"")),
            _ => throw new ArgumentOutOfRangeException(nameof(corruption)),
        };
        string path = WriteBytes("corrupt.params.safetensors", corrupt);
        AssertInputRejected(Inputs.Of("mlp_a") with { Params = path }, path, expected);
    }

    // ---------------------------------------------------------------- tensors missing, misshapen, mistyped, out of range

    /// <summary>
    /// <paramref name="edits"/> rewrites one golden file, tensor by tensor, separated by ';':
    /// "drop NAME", "add NAME", "shape NAME d0,d1,..", "dtype NAME T", "set NAME INDEX VALUE".
    /// </summary>
    [Theory]
    [InlineData("mlp_a", "params", "drop fc1.bias", "tensor 'fc1.bias' is missing, expected F32 or F64 of shape [7]")]
    [InlineData("transformer_a", "params", "drop h.0.ln1.bias", "tensor 'h.0.ln1.bias' is missing, expected F32 or F64 of shape [12]")]
    [InlineData("mlp_a", "params", "shape fc1.weight 13,7", "tensor 'fc1.weight' has shape [13, 7], expected [7, 13]")]
    [InlineData("lstm_a", "params", "shape lstm.bias_hh_l0 27", "tensor 'lstm.bias_hh_l0' has shape [27], expected [28]")]
    [InlineData("cnn_a", "params", "shape conv1.weight 3,2,9", "tensor 'conv1.weight' has shape [3, 2, 9], expected [3, 2, 3, 3]")]
    [InlineData("mlp_a", "params", "dtype fc2.bias I64", "tensor 'fc2.bias' is I64, expected F32 or F64")]
    [InlineData("lstm_a", "params", "dtype embed.weight I32", "tensor 'embed.weight' is I32, expected F32 or F64")]
    [InlineData("mlp_a", "params", "add fc3.weight", "tensor 'fc3.weight' is not a parameter of this mlp model")]
    [InlineData("transformer_a", "params", "add lm_head.bias", "tensor 'lm_head.bias' is not a parameter of this transformer model")]
    [InlineData("mlp_a", "batch", "drop x", "tensor 'x' is missing, expected the inputs of a mlp model")]
    [InlineData("mlp_a", "batch", "drop y", "tensor 'y' is missing, expected I64 or I32 of shape [3]")]
    [InlineData("lstm_a", "batch", "drop y", "tensor 'y' is missing, expected I64 or I32 of shape [3, 4]")]
    [InlineData("mlp_a", "batch", "shape x 3,12", "tensor 'x' has shape [3, 12], expected [B, 13] for a mlp model")]
    [InlineData("mlp_a", "batch", "shape x 39", "tensor 'x' has shape [39], expected [B, 13] for a mlp model")]
    [InlineData("cnn_a", "batch", "shape x 4,7,10,2", "tensor 'x' has shape [4, 7, 10, 2], expected [B, 2, 7, 10] for a cnn model")]
    [InlineData("lstm_a", "batch", "shape x 12", "tensor 'x' has shape [12], expected [B, T] for a lstm model")]
    [InlineData("lstm_a", "batch", "shape x 3,4,1", "tensor 'x' has shape [3, 4, 1], expected [B, T] for a lstm model")]
    [InlineData("mlp_a", "batch", "shape y 3,1", "tensor 'y' has shape [3, 1], expected [3]")]
    [InlineData("transformer_a", "batch", "shape y 2,4", "tensor 'y' has shape [2, 4], expected [2, 5]")]
    [InlineData("transformer_a", "batch", "shape x 1,9; shape y 1,9", "tensor 'x' has T = 9, more than the model's context 8")]
    [InlineData("lstm_a", "batch", "set x 0 11", "tensor 'x' holds id 11 at flat index 0, outside [0, 11) (vocab)")]
    [InlineData("lstm_a", "batch", "set x 5 -1", "tensor 'x' holds id -1 at flat index 5, outside [0, 11) (vocab)")]
    [InlineData("transformer_a", "batch", "set x 9 17", "tensor 'x' holds id 17 at flat index 9, outside [0, 17) (vocab)")]
    [InlineData("transformer_a", "batch", "set y 3 -5", "tensor 'y' holds id -5 at flat index 3, outside [0, 17) (vocab)")]
    [InlineData("mlp_a", "batch", "set y 2 5", "tensor 'y' holds id 5 at flat index 2, outside [0, 5) (classes)")]
    [InlineData("cnn_a", "batch", "set y 0 -1", "tensor 'y' holds id -1 at flat index 0, outside [0, 5) (classes)")]
    [InlineData("lstm_a", "batch", "set x 1 1099511627776", "tensor 'x' holds 1099511627776 at element 1, outside the int32 range")]
    [InlineData("lstm_a", "batch", "dtype x F32", "tensor 'x' is F32, expected I64 or I32")]
    [InlineData("transformer_a", "batch", "dtype y F64", "tensor 'y' is F64, expected I64 or I32")]
    [InlineData("mlp_a", "batch", "dtype y F32", "tensor 'y' is F32, expected I64 or I32")]
    [InlineData("mlp_a", "batch", "dtype x I64", "tensor 'x' is I64, expected F32 or F64")]
    public void BadTensor(string goldenCase, string file, string edits, string expected)
    {
        var inputs = Inputs.Of(goldenCase);
        string source = file == "params" ? inputs.Params : inputs.Batch;
        string path = Temp($"edited.{file}.safetensors");
        WriteTensors(path, Edit(ReadTensors(source), edits));
        AssertInputRejected(file == "params" ? inputs with { Params = path } : inputs with { Batch = path }, path, expected);
    }

    // ---------------------------------------------------------------- results that are not finite

    /// <summary>A NaN or an infinity in a parameter or an input that is used reaches the loss, as in PyTorch, and is never hidden.</summary>
    [Theory]
    [InlineData("mlp_a", "params", "set fc1.weight 0 NaN")]
    [InlineData("mlp_a", "params", "set fc2.bias 1 Infinity")]
    [InlineData("mlp_b", "batch", "set x 4 NaN")]
    [InlineData("transformer_a", "params", "set wpe.weight 0 NaN")]
    [InlineData("lstm_a", "params", "set head.bias 0 Infinity")]
    [InlineData("cnn_a", "params", "set conv1.bias 0 NaN")]
    [InlineData("cnn_c", "batch", "set x 1 NaN")] // kernel_size 1: one NaN pixel, not the first of its pooling window
    public void NonFiniteResult_FailsAndWritesNothing(string goldenCase, string file, string edit)
    {
        var inputs = Inputs.Of(goldenCase);
        string path = Temp($"nan.{file}.safetensors");
        WriteTensors(path, Edit(ReadTensors(file == "params" ? inputs.Params : inputs.Batch), edit));
        inputs = file == "params" ? inputs with { Params = path } : inputs with { Batch = path };
        string grad = AssertCleanFailure(GradArgs(inputs), "the result is not finite");
        Assert.StartsWith("error: loss is ", grad);
        string train = AssertCleanFailure(TrainArgs(inputs), "the result is not finite");
        Assert.StartsWith("error: loss before step 1 is ", train);
    }

    [Fact]
    public void TrainThatDiverges_WritesNeitherFile()
    {
        // A finite start, then an absurd learning rate: the loss stops being finite after the first step.
        string[] args = With(With(TrainArgs(Inputs.Of("mlp_a"), steps: 4), "--optimizer", "sgd"), "--lr", "1e308");
        AssertCleanFailure(args, "loss before step", "the result is not finite");
    }

    // ---------------------------------------------------------------- malformed command lines and output paths

    [Theory]
    [InlineData("--out", "Option '--out' is required")]
    [InlineData("--backend", "Option '--backend' is required")]
    [InlineData("--params", "Option '--params' is required")]
    public void Grad_MissingRequiredOption_ExitsTwo(string option, string expected)
    {
        string[] args = Without(GradArgs(Inputs.Of("mlp_a")), option);
        var (code, _) = AssertCleanFailureWithCode(args, expected, "(see kernellab grad --help)");
        Assert.Equal(2, code);
    }

    [Fact]
    public void Train_MissingLosses_ExitsTwo()
    {
        var (code, _) = AssertCleanFailureWithCode(Without(TrainArgs(Inputs.Of("mlp_a")), "--losses"), "Option '--losses' is required");
        Assert.Equal(2, code);
    }

    [Theory]
    [InlineData(new string[0], 2, "Required command was not provided")]
    [InlineData(new[] { "gard" }, 2, "Unrecognized command or argument 'gard'")]
    [InlineData(new[] { "grad", "--config", "c.json", "--bogus" }, 2, "'--bogus'")]
    public void MalformedCommandLine_ExitsTwo(string[] args, int code, string expected)
    {
        var (actual, message) = AssertCleanFailureWithCode(args, expected, "--help");
        Assert.Equal(code, actual);
        Assert.DoesNotContain("  ", message);
    }

    [Theory]
    [InlineData("0", "--steps 0: expected at least 1")]
    [InlineData("-3", "--steps -3: expected at least 1")]
    [InlineData("five", "Cannot parse argument 'five' for option '--steps'")]
    public void Train_BadSteps(string steps, string expected)
    {
        AssertCleanFailure(With(TrainArgs(Inputs.Of("mlp_a")), "--steps", steps), expected);
    }

    [Fact]
    public void Train_UnknownOptimizer() =>
        AssertCleanFailure(With(TrainArgs(Inputs.Of("mlp_a")), "--optimizer", "adamax"), "unknown optimizer 'adamax'", "expected one of sgd, adam, adamw, rmsprop, adagrad");

    [Fact]
    public void OutputInAMissingDirectory()
    {
        string target = Temp(Path.Combine("no-such-dir", "G.safetensors"));
        AssertCleanFailure(With(GradArgs(Inputs.Of("mlp_a")), "--out", target), target, "cannot write: the directory does not exist");
        AssertCleanFailure(With(TrainArgs(Inputs.Of("mlp_a")), "--losses", target), target, "cannot write: the directory does not exist");
    }

    [Theory]
    [InlineData("--out")]
    [InlineData("--losses")]
    public void EmptyOutputPath(string option)
    {
        string[] args = option == "--out" ? GradArgs(Inputs.Of("mlp_a")) : TrainArgs(Inputs.Of("mlp_a"));
        AssertCleanFailure(With(args, option, ""), "output file path is empty");
    }

    [Fact]
    public void OutputIsADirectory()
    {
        string target = Directory.CreateDirectory(Temp("G-dir")).FullName;
        AssertCleanFailure(With(GradArgs(Inputs.Of("mlp_a")), "--out", target), target, "cannot write: it is a directory");
        // train writes both files or neither: --out is fine here, --losses is not.
        AssertCleanFailure(With(TrainArgs(Inputs.Of("mlp_a")), "--losses", target), target, "cannot write: it is a directory");
        AssertCleanFailure(With(TrainArgs(Inputs.Of("mlp_a")), "--out", target), target, "cannot write: it is a directory");
    }

    [Fact]
    public void Failure_LeavesAnExistingOutputFileAsItWas()
    {
        byte[] earlier = Encoding.ASCII.GetBytes("an earlier result");
        File.WriteAllBytes(OutPath, earlier);
        File.WriteAllBytes(LossesPath, earlier);
        var inputs = Inputs.Of("mlp_a") with { Backend = "nope" };
        AssertCleanFailure(GradArgs(inputs), "unknown backend");
        AssertCleanFailure(TrainArgs(inputs), "unknown backend");
        Assert.Equal(earlier, File.ReadAllBytes(OutPath));
        Assert.Equal(earlier, File.ReadAllBytes(LossesPath));
    }

    // ---------------------------------------------------------------- what the verbs write

    [Theory]
    [InlineData("mlp_a")]
    [InlineData("mlp_b")]
    [InlineData("mlp_c")]
    [InlineData("cnn_a")]
    [InlineData("cnn_b")]
    [InlineData("cnn_c")]
    [InlineData("lstm_a")]
    [InlineData("lstm_b")]
    [InlineData("transformer_a")]
    [InlineData("transformer_b")]
    [InlineData("transformer_c")]
    [InlineData("gru_b")]
    [InlineData("mlp_drop")]
    [InlineData("transformer_drop")]
    public void Grad_WritesEveryParameterGradientAndTheLoss(string goldenCase)
    {
        var (stdout, grads) = GradOk(Inputs.Of(goldenCase));

        var parameters = SafetensorsFile.Read(Golden($"{goldenCase}.params.safetensors")).Tensors;
        Assert.Equal([.. parameters.Select(p => p.Name), "loss"], grads.Select(t => t.Name));
        Assert.Equal(parameters.Select(p => Shape(p.Shape)), grads.SkipLast(1).Select(t => Shape(t.Shape)));
        Assert.Empty(grads[^1].Shape);
        double loss = grads[^1].Values[0];
        Assert.Contains($"loss {loss.ToString("R", CultureInfo.InvariantCulture)}", stdout);

        // The reference backend against PyTorch in float64.
        var golden = ReadTensors(Golden($"{goldenCase}.grads.safetensors")).ToDictionary(t => t.Name);
        foreach (var t in grads)
        {
            var result = TensorComparison.Compare(t.Name, t.Values, golden[t.Name].Values, TensorComparison.Float64Tolerance);
            Assert.True(result.Passed, result.ToString());
        }
    }

    [Theory]
    [InlineData("lstm_a")]
    [InlineData("transformer_b")]
    [InlineData("mlp_a")]
    [InlineData("cnn_b")]
    public void Grad_AcceptsInt32Ids_WithTheSameResult(string goldenCase)
    {
        var inputs = Inputs.Of(goldenCase);
        var (_, wide) = GradOk(inputs);
        File.Delete(OutPath);

        string narrow = Temp("i32.batch.safetensors");
        WriteTensors(narrow, ReadTensors(inputs.Batch).Select(t => t.DType == DType.I64 ? t with { DType = DType.I32 } : t));
        Assert.Contains(SafetensorsFile.Read(narrow).Tensors, t => t.DType == DType.I32);
        var (_, result) = GradOk(inputs with { Batch = narrow });

        Assert.Equal(wide.Select(t => t.Name), result.Select(t => t.Name));
        for (int i = 0; i < wide.Count; i++)
            Assert.Equal(wide[i].Values, result[i].Values);
    }

    [Theory]
    [InlineData("mlp_a")]
    [InlineData("transformer_a")]
    [InlineData("lstm_b")]
    public void Train_WritesTheLossesAndTheFinalParameters(string goldenCase)
    {
        var inputs = Inputs.Of(goldenCase);
        string final = Temp("final.safetensors");
        var (code, stdout, stderr) = Run(With(TrainArgs(inputs, steps: 5), "--out", final));
        Assert.True(code == 0, stderr);
        Assert.Equal("", stderr);
        Assert.Contains("adamw on reference", stdout, StringComparison.OrdinalIgnoreCase);

        using var doc = JsonDocument.Parse(File.ReadAllText(LossesPath));
        Assert.Equal(["losses", "lrs"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        double[] losses = [.. doc.RootElement.GetProperty("losses").EnumerateArray().Select(e => e.GetDouble())];
        Assert.Equal(5, losses.Length);
        Assert.Equal([0.01, 0.01, 0.01, 0.01, 0.01], doc.RootElement.GetProperty("lrs").EnumerateArray().Select(e => e.GetDouble())); // no schedule

        // The golden trajectory of adamw, lr 0.01 (weight decay 0.01, PyTorch's default), from PyTorch in float64.
        using var golden = JsonDocument.Parse(File.ReadAllText(Golden($"{goldenCase}.train.json")));
        var trajectory = golden.RootElement.GetProperty("trajectories").EnumerateArray()
            .First(t => t.GetProperty("optimizer").GetProperty("name").GetString() == "adamw");
        double[] expected = [.. trajectory.GetProperty("losses").EnumerateArray().Select(e => e.GetDouble())];
        var comparison = TensorComparison.Compare("losses", losses, expected, TensorComparison.Float64Tolerance);
        Assert.True(comparison.Passed, comparison.ToString());

        var parameters = SafetensorsFile.Read(inputs.Params).Tensors;
        var written = SafetensorsFile.Read(final).Tensors;
        Assert.Equal(parameters.Select(p => (p.Name, Shape(p.Shape))), written.Select(p => (p.Name, Shape(p.Shape))));
        Assert.All(written, t => Assert.Equal(DType.F32, t.DType));
        Assert.NotEqual(ReadTensors(inputs.Params)[0].Values, ReadTensors(final)[0].Values);
    }

    [Fact]
    public void Train_WithoutOut_WritesOnlyTheLosses()
    {
        string[] args = Without(TrainArgs(Inputs.Of("mlp_a"), steps: 2), "--out");
        var (code, _, stderr) = Run(args);
        Assert.True(code == 0, stderr);
        Assert.Equal([LossesPath], Files());
    }

    [Fact]
    public void Backends_ListsEveryBackend_AvailableOrWhyNot()
    {
        var (code, stdout, stderr) = Run("backends");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        string[] lines = stdout.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        var backendLines = lines.Where(l => !l.StartsWith(' ')).ToList();
        Assert.Equal(BackendRegistry.Names, backendLines.Select(l => l.Split(' ')[0]));

        string Line(string name) => backendLines.Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        Assert.Matches("^reference +available ", Line("reference"));
        foreach (var entry in BackendRegistry.All)
        {
            var availability = entry.Probe();
            Assert.Contains(availability.IsAvailable ? " available " : $" unavailable  {availability.Reason}", Line(entry.Name));
        }
    }

    /// <summary>Without --backend: every backend of the registry that compiles kernel sources, each under its own heading.</summary>
    [Fact]
    public void KernelsCheck_WithoutBackend_ChecksEveryBackendThatCompilesKernels()
    {
        var (code, stdout, stderr) = Run("kernels", "check");
        string[] lines = stdout.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        var names = BackendRegistry.All.Where(e => e.KernelSources is not null).Select(e => e.Name).ToList();
        Assert.NotEmpty(names);
        Assert.Equal(names, lines.Where(l => names.Any(n => l.StartsWith(n + ": ", StringComparison.Ordinal))).Select(l => l[..l.IndexOf(':')]).Distinct());
        // Where a backend cannot build here (no device, no NVRTC), the others are still checked and the exit says which failed.
        Assert.True(code == 0 ? stderr == "" : stderr.StartsWith("error: kernel sources of ", StringComparison.Ordinal), stderr);
    }

    [Fact]
    public void KernelsCheck_DeviceWithoutBackend_IsOneLine()
    {
        var (code, stdout, stderr) = Run("kernels", "check", "--device", "0:0");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Equal($"error: --device 0:0 names a device of one backend: give --backend too{Environment.NewLine}", stderr);
    }

    /// <summary>Under each backend's line, one indented line per device: its id first, then its kind, name and state.</summary>
    [Fact]
    public void Backends_ListsEachDeviceUnderItsBackend()
    {
        var (code, stdout, _) = Run("backends");
        Assert.Equal(0, code);
        string[] lines = stdout.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        foreach (var entry in BackendRegistry.All)
        {
            int at = Array.FindIndex(lines, l => l.StartsWith(entry.Name + " ", StringComparison.Ordinal));
            var deviceLines = lines.Skip(at + 1).TakeWhile(l => l.StartsWith(' ')).ToList();
            var devices = entry.Devices();
            Assert.Equal(devices.Count, deviceLines.Count);
            foreach (var (device, line) in devices.Zip(deviceLines))
            {
                Assert.Equal([device.Id, device.Kind], line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(2));
                Assert.Contains($" {device.Name} ", line);
                Assert.EndsWith(device.Availability.IsAvailable ? "  available" : $"  unavailable  {device.Availability.Reason}", line);
            }
        }
    }

    [Theory]
    [InlineData("{'family': 'transformer', 'vocab': 9, 'context': 6, 'd_model': 6, 'heads': 2, 'layers': 2, 'ffn': 7}", 5)]
    [InlineData("{'family': 'lstm', 'vocab': 7, 'embed': 3, 'hidden': 4, 'layers': 2}", 3)]
    [InlineData("{'family': 'cnn', 'in_channels': 1, 'height': 5, 'width': 8, 'channels': [2], 'kernel_size': 3, 'hidden': 3, 'classes': 4}", null)]
    [InlineData("{'family': 'mlp', 'sizes': [5, 3]}", null)]
    public void InitBatchGrad_ChainForAConfigWrittenHere(string json, int? seq)
    {
        string config = WriteText("model.config.json", json.Replace('\'', '"'));
        string parameters = Temp("P.safetensors");
        string batch = Temp("B.safetensors");

        Ok("init", "--config", config, "--seed", "7", "--out", parameters);
        byte[] first = File.ReadAllBytes(parameters);
        Ok("init", "--config", config, "--seed", "7", "--out", parameters);
        Assert.Equal(first, File.ReadAllBytes(parameters));

        Ok(["batch", "--config", config, "--batch", "3", .. (seq is { } t ? new[] { "--seq", $"{t}" } : []), "--seed", "8", "--out", batch]);
        var x = SafetensorsFile.Read(batch).Info("x");
        Assert.Equal(3, x.Shape[0]);
        if (seq is { } steps)
            Assert.Equal([3L, steps], x.Shape);

        var (stdout, grads) = GradOk(new Inputs(config, parameters, batch));
        Assert.Equal([.. SafetensorsFile.Read(parameters).Tensors.Select(t => t.Name), "loss"], grads.Select(t => t.Name));
        Assert.Contains("loss ", stdout);
        Assert.True(double.IsFinite(grads[^1].Values[0]) && grads[^1].Values[0] > 0);
    }

    [Theory]
    [InlineData("mlp_a", "2", "--seq does not apply to a mlp model")]
    [InlineData("cnn_a", "2", "--seq does not apply to a cnn model")]
    [InlineData("lstm_a", null, "--seq is required for a lstm model")]
    [InlineData("transformer_a", "9", "--seq 9: expected 1 to the model's context")]
    [InlineData("transformer_a", "0", "--seq 0: expected 1 to the model's context")]
    public void Batch_ChecksSeqAgainstTheFamily(string goldenCase, string? seq, string expected)
    {
        string[] args = ["batch", "--config", Golden($"{goldenCase}.config.json"), "--batch", "2", "--out", OutPath];
        AssertCleanFailure(seq is null ? args : [.. args, "--seq", seq], expected);
    }

    [Fact]
    public void Batch_RejectsABadBatchSize() =>
        AssertCleanFailure(["batch", "--config", Golden("mlp_a.config.json"), "--batch", "0", "--out", OutPath], "--batch 0: expected at least 1");

    [Fact]
    public void Init_RejectsABadConfig()
    {
        string config = WriteText("bad.config.json", "{\"family\": \"mlp\", \"sizes\": [4]}");
        AssertCleanFailure(["init", "--config", config, "--out", OutPath], config, "'sizes' has 1 entries, expected at least 2");
    }

    [Fact]
    public void Train_WithAScheduleRecordsTheRateOfEachStep()
    {
        string[] args = [.. With(TrainArgs(Inputs.Of("mlp_a"), steps: 5), "--lr", "0.1"), "--schedule", "{\"name\": \"step\", \"step_size\": 2, \"gamma\": 0.5}"];
        var (code, _, stderr) = Run(args);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(LossesPath));
        Assert.Equal([0.1, 0.1, 0.05, 0.05, 0.025], doc.RootElement.GetProperty("lrs").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(5, doc.RootElement.GetProperty("losses").GetArrayLength());
    }

    [Fact]
    public void Train_RefusesAPlateauSchedule() =>
        AssertCleanFailure([.. TrainArgs(Inputs.Of("mlp_a")), "--schedule", "{\"name\": \"plateau\", \"factor\": 0.5, \"patience\": 2}"],
            "--schedule: plateau steps on a validation loss");

    // ---------------------------------------------------------------- helpers

    private string[] GradArgs(Inputs i) =>
        ["grad", "--config", i.Config, "--params", i.Params, "--batch", i.Batch, "--backend", i.Backend, "--out", OutPath];

    /// <summary>train with every option of MODELS.md; <c>--out</c> is the last pair, <c>--losses</c> before it.</summary>
    private string[] TrainArgs(Inputs i, int steps = 3) =>
    [
        "train", "--config", i.Config, "--params", i.Params, "--batch", i.Batch, "--backend", i.Backend,
        "--optimizer", "adamw", "--lr", "0.01", "--weight-decay", "0.01", "--steps", $"{steps}", "--losses", LossesPath, "--out", OutPath,
    ];

    /// <summary>The same command line without <paramref name="option"/> and its value.</summary>
    private static string Shape(IEnumerable<long> shape) => TensorInfo.FormatShape([.. shape]);

    /// <summary>The same command line with the value of <paramref name="option"/> replaced.</summary>
    private static string[] With(string[] args, string option, string value)
    {
        string[] copy = [.. args];
        copy[Array.IndexOf(copy, option) + 1] = value;
        return copy;
    }

    private static string[] Without(string[] args, string option)
    {
        int at = Array.IndexOf(args, option);
        return [.. args[..at], .. args[(at + 2)..]];
    }

    /// <summary>An input error: grad and train both fail cleanly with exit 1, naming what <paramref name="phrases"/> name.</summary>
    private void AssertInputRejected(Inputs inputs, params string[] phrases)
    {
        Assert.Equal(1, AssertCleanFailureWithCode(GradArgs(inputs), phrases).Code);
        Assert.Equal(1, AssertCleanFailureWithCode(TrainArgs(inputs), phrases).Code);
    }

    private string AssertCleanFailure(string[] args, params string[] phrases) => AssertCleanFailureWithCode(args, phrases).Message;

    /// <summary>
    /// A clean failure: a non-zero exit, nothing on stdout, exactly one line on stderr that starts with "error: " and
    /// holds every phrase, no stack trace, and no file written or left behind (temporary files included).
    /// </summary>
    private (int Code, string Message) AssertCleanFailureWithCode(string[] args, params string[] phrases)
    {
        string[] before = Files();
        var (code, stdout, stderr) = Run(args);
        string command = string.Join(' ', args);

        Assert.True(code != 0, $"exit 0 for: {command}");
        Assert.DoesNotContain("   at ", stdout + stderr);
        Assert.Equal("", stdout);
        Assert.EndsWith(Environment.NewLine, stderr);
        string message = stderr[..^Environment.NewLine.Length];
        Assert.False(message.Contains('\n') || message.Contains('\r'), $"more than one line: {stderr}");
        Assert.StartsWith("error: ", message);
        foreach (string phrase in phrases)
            Assert.Contains(phrase, message);

        Assert.Equal(before, Files());
        Assert.False(File.Exists(OutPath) && !before.Contains(OutPath), $"{OutPath} was written");
        Assert.False(File.Exists(LossesPath) && !before.Contains(LossesPath), $"{LossesPath} was written");
        return (code, message);
    }

    private (string Stdout, List<Tensor> Grads) GradOk(Inputs inputs)
    {
        string stdout = Ok(GradArgs(inputs));
        return (stdout, ReadTensors(OutPath));
    }

    private string Ok(params string[] args)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Equal("", stderr);
        return stdout;
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = KernelLabCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Every file under the temporary directory, hidden ones included.</summary>
    private string[] Files() =>
        [.. Directory.EnumerateFiles(_dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal)];

    private string Temp(string name) => Path.Combine(_dir, name);

    private string WriteText(string name, string text)
    {
        string path = Temp(name);
        File.WriteAllText(path, text);
        return path;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = Temp(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Patch(byte[] bytes, int at, params byte[] values)
    {
        byte[] copy = [.. bytes];
        values.CopyTo(copy, at);
        return copy;
    }

    private static string ReplaceFirst(string text, string old, string replacement)
    {
        int at = text.IndexOf(old, StringComparison.Ordinal);
        return text[..at] + replacement + text[(at + old.Length)..];
    }

    private static List<Tensor> Edit(List<Tensor> tensors, string edits)
    {
        foreach (string edit in edits.Split(';', StringSplitOptions.TrimEntries))
        {
            string[] w = edit.Split(' ');
            int at = tensors.FindIndex(t => t.Name == w[1]);
            switch (w[0])
            {
                case "drop":
                    tensors.RemoveAt(at);
                    break;
                case "add":
                    tensors.Add(new Tensor(w[1], DType.F32, [2], [0.5, -0.5]));
                    break;
                case "shape":
                    long[] shape = [.. w[2].Split(',').Select(long.Parse)];
                    double[] values = new double[shape.Aggregate(1L, (a, b) => a * b)];
                    tensors[at].Values.AsSpan(0, Math.Min(values.Length, tensors[at].Values.Length)).CopyTo(values);
                    tensors[at] = tensors[at] with { Shape = shape, Values = values };
                    break;
                case "dtype":
                    tensors[at] = tensors[at] with { DType = Enum.Parse<DType>(w[2]) };
                    break;
                case "set":
                    tensors[at] = tensors[at].With(int.Parse(w[2], CultureInfo.InvariantCulture), double.Parse(w[3], CultureInfo.InvariantCulture));
                    break;
                default:
                    throw new ArgumentException($"unknown edit '{edit}'", nameof(edits));
            }
        }
        return tensors;
    }
}
