using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Data;

namespace KernelLab.Tests.Data;

/// <summary>
/// "augment" (models/Data/README.md, "Augmentation"): each training image is a zero-padded crop of its original, mirrored or
/// not, drawn from the batch's own generator; the order of examples, evaluation batches and other seeds are unaffected.
/// </summary>
public sealed class AugmentationTests : IDisposable
{
    private static readonly CnnConfig Cnn = new(1, 28, 28, [4], 3, 16, 10);
    private static readonly BatchShape Shape = new(7);
    private const int Side = FashionMnistSpec.Side;

    private readonly DataFolder _folder = new();

    public AugmentationTests() => _folder.WriteFashionMnist();

    public void Dispose() => _folder.Dispose();

    private TrainingData Load(Augment? augment) => TrainingData.Load(_folder.Fashion() with { Augment = augment }, Cnn, Shape);

    private static Batch Draw(TrainingData data, ulong seed, int epoch, int index)
    {
        var batch = Batch.Allocate(Cnn, Shape);
        data.FillTrainingBatch(seed, epoch, index, batch);
        return batch;
    }

    /// <summary>The image of slot <paramref name="slot"/> cropped at offset (dy, dx) in [-p, p] and mirrored or not, with zeros outside.</summary>
    private static double[] Transformed(Batch batch, int slot, int dy, int dx, bool flip)
    {
        var image = batch.Features.AsSpan(slot * Side * Side, Side * Side);
        var result = new double[Side * Side];
        for (int i = 0; i < Side; i++)
            for (int j = 0; j < Side; j++)
            {
                int si = i + dy, sj = (flip ? Side - 1 - j : j) + dx;
                result[i * Side + j] = si is >= 0 and < Side && sj is >= 0 and < Side ? image[si * Side + sj] : 0;
            }
        return result;
    }

    [Fact]
    public void EachImageIsACropAndMaybeAMirrorOfItsOriginal()
    {
        const int p = 2;
        var plain = Load(null);
        var augmented = Load(new Augment(p, true));
        var seen = new HashSet<(int, int, bool)>();
        for (int index = 0; index < plain.BatchesPerEpoch; index++)
        {
            var original = Draw(plain, 1, 0, index);
            var batch = Draw(augmented, 1, 0, index);
            Assert.Equal(original.Targets, batch.Targets); // the same examples, in the same order
            for (int slot = 0; slot < Shape.Batch; slot++)
            {
                var actual = batch.Features.AsSpan(slot * Side * Side, Side * Side).ToArray();
                var matches = (from dy in Enumerable.Range(-p, 2 * p + 1)
                               from dx in Enumerable.Range(-p, 2 * p + 1)
                               from flip in new[] { false, true }
                               where Transformed(original, slot, dy, dx, flip).SequenceEqual(actual)
                               select (dy, dx, flip)).ToList();
                Assert.NotEmpty(matches);
                seen.Add(matches[0]);
            }
        }
        // 35 images: the offsets and the flip vary (a recipe that never crops or never flips fails here).
        Assert.True(seen.Count > 10, $"only {seen.Count} distinct transforms in 35 images");
        Assert.Contains(seen, t => t.Item3);
        Assert.Contains(seen, t => !t.Item3);
    }

    [Fact]
    public void TheSameSeedEpochAndIndexGiveTheSameBatchAndOthersDiffer()
    {
        var data = Load(new Augment(2, true));
        var first = Draw(data, 1, 0, 2).Features;
        Assert.Equal(first, Draw(data, 1, 0, 2).Features);
        Assert.Equal(first, Draw(Load(new Augment(2, true)), 1, 0, 2).Features);
        // Another seed shuffles differently too; the same examples at another epoch or index get other transforms.
        Assert.NotEqual(first, Draw(data, 2, 0, 2).Features);
        Assert.NotEqual(Draw(Load(null), 1, 0, 3).Features, Draw(data, 1, 0, 3).Features);
    }

    [Fact]
    public void EvaluationBatchesAreNotAugmented()
    {
        var plain = Load(null);
        var augmented = Load(new Augment(3, true));
        foreach (var split in new[] { Split.Validation, Split.Test })
            for (int i = 0; i < plain.EvaluationBatches(split); i++)
            {
                var (a, b) = (Batch.Allocate(Cnn, Shape), Batch.Allocate(Cnn, Shape));
                plain.FillEvaluationBatch(split, i, a);
                augmented.FillEvaluationBatch(split, i, b);
                Assert.Equal(a.Features, b.Features);
            }
    }

    [Fact]
    public void AnAugmentedBatchAllocatesNothing() =>
        DataFolder.AssertDrawsWithoutAllocating(Load(new Augment(2, true)), Batch.Allocate(Cnn, Shape));

    [Theory]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 10, 'augment': {'crop_padding': 28}}", "'augment': 'crop_padding' is 28, expected an integer in [1, 27]")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 10, 'augment': {'crop_padding': -1}}", "'crop_padding' is -1, expected a positive integer")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 10, 'augment': {'hflip': 'yes'}}", "'hflip' is \"yes\", expected true or false")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 10, 'augment': {'rotate': 5}}", "unknown field 'rotate': expected one of crop_padding, hflip")]
    [InlineData("{'dataset': 'fashion-mnist', 'validation': 10, 'augment': {'hflip': false}}", "neither 'crop_padding' nor 'hflip' is set")]
    [InlineData("{'dataset': 'text', 'files': ['a'], 'validation_fraction': 0.1, 'augment': {'hflip': true}}", "'augment' is given, but text data has no images to augment")]
    public void ABadAugmentIsOneLine(string json, string expected)
    {
        var e = Assert.Throws<KernelLabException>(() => DataSpec.Parse(System.Text.Json.JsonDocument.Parse(json.Replace('\'', '"')).RootElement, "suite.json: 'data'"));
        Assert.StartsWith("suite.json: 'data'", e.Message);
        Assert.Contains(expected, e.Message);
    }
}
