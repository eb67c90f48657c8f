using KernelLab.Models;

namespace KernelLab.Tests.Data;

/// <summary>The batch a loader fills in place: zeroed arrays of the sizes of the model and the batch shape.</summary>
public sealed class BatchAllocateTests
{
    [Fact]
    public void AllocateGivesZeroedArraysOfTheModelsSizes()
    {
        var mlp = Batch.Allocate(new MlpConfig([784, 10]), new BatchShape(3));
        Assert.Equal((3 * 784, 3), (mlp.Features!.Length, mlp.Targets.Length));
        Assert.Null(mlp.Tokens);
        Assert.All(mlp.Features, x => Assert.Equal(0.0, x));
        var cnn = Batch.Allocate(new CnnConfig(2, 5, 7, [4], 3, 8, 10), new BatchShape(4));
        Assert.Equal((4 * 2 * 5 * 7, 4), (cnn.Features!.Length, cnn.Targets.Length));
        var lstm = Batch.Allocate(new LstmConfig(256, 8, 8, 1), new BatchShape(3, 5));
        Assert.Equal((15, 15), (lstm.Tokens!.Length, lstm.Targets.Length));
        Assert.Null(lstm.Features);
        Assert.Equal(new BatchShape(3, 5), lstm.Shape);
    }
}
