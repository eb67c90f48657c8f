using static KernelLab.Tests.CliFiles;

namespace KernelLab.Tests;

/// <summary>Bad values of the training blocks (MODELS.md, "Training blocks"): one line naming the field, exit 1, no file left.</summary>
public sealed partial class CliTests
{
    [Theory]
    [InlineData("{\"family\": \"mlp\", \"sizes\": [13, 7, 5], \"dropout\": 1}", "'dropout' is 1, expected a number in [0, 1)")]
    [InlineData("{\"family\": \"mlp\", \"sizes\": [13, 7, 5], \"dropout\": -0.1}", "'dropout' is -0.1, expected a number in [0, 1)")]
    [InlineData("{\"family\": \"mlp\", \"sizes\": [13, 7, 5], \"batch_norm\": 1}", "'batch_norm' is 1, expected true or false")]
    [InlineData("{\"family\": \"lstm\", \"vocab\": 11, \"embed\": 5, \"hidden\": 7, \"layers\": 1, \"batch_norm\": true}", "'batch_norm' is given, but the lstm family has no batch norm")]
    [InlineData("{\"family\": \"transformer\", \"vocab\": 11, \"context\": 8, \"d_model\": 12, \"heads\": 3, \"layers\": 1, \"ffn\": 20, \"batch_norm\": false}", "'batch_norm' is given, but the transformer family has no batch norm")]
    [InlineData("{\"family\": \"gru\", \"vocab\": 11, \"embed\": 5, \"hidden\": 7, \"layers\": 1, \"dropout\": 0.1}", "'dropout' is given, but the gru family has no dropout")]
    public void ABadBlockInAConfig_IsOneLineNamingTheField(string json, string expected)
    {
        string config = WriteText("blocks.config.json", json);
        AssertCleanFailure(["init", "--config", config, "--out", OutPath], config, expected);
    }

    [Theory]
    [InlineData("--clip-grad-norm", "0", "--clip-grad-norm 0: expected a finite number > 0")]
    [InlineData("--clip-grad-norm", "-1", "--clip-grad-norm -1: expected a finite number > 0")]
    [InlineData("--l1", "-0.5", "--l1 -0.5: expected a finite number >= 0")]
    [InlineData("--schedule", "{\"name\": \"linear\"}", "unknown schedule \"linear\"")]
    public void ABadTrainingFlag_IsOneLineNamingIt(string flag, string value, string expected) =>
        AssertCleanFailure([.. TrainArgs(Inputs.Of("mlp_reg")), flag, value], expected);

    /// <summary>Batch norm in train mode needs two values per channel: an mlp with it at batch 1 has one.</summary>
    [Fact]
    public void BatchNormAtBatchOne_IsOneLine()
    {
        string batch = OutPath + ".batch.safetensors";
        Assert.Equal(0, Run(["batch", "--config", Golden("mlp_bn.config.json"), "--batch", "1", "--out", batch]).Code);
        AssertCleanFailure(GradArgs(Inputs.Of("mlp_bn") with { Batch = batch }), "bn1: batch norm in train mode needs more than 1 value per channel, and a batch of 1 gives 1");
    }
}
