using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Data;

namespace KernelLab.Tests.Data;

/// <summary>
/// fashion-mnist as models/Data/README.md draws it, on tiny IDX files of 50 training and 20 test images whose first
/// pixel is the image's number: 40 training and 10 validation images at validation 10; batches of 7 (5 per epoch, 5 dropped).
/// </summary>
public sealed class FashionMnistDataTests : IDisposable
{
    private static readonly MlpConfig Mlp = new([784, 16, 10]);
    private static readonly CnnConfig Cnn = new(1, 28, 28, [4], 3, 16, 10);
    private static readonly BatchShape Shape = new(7);

    /// <summary>
    /// The order of epoch 0 and of epoch 1 for seed 1 over 40 examples, from a separate Python transcription of the recipe
    /// (SplitMix64, xoshiro256**, NextInt = floor(NextDouble() * n), Fisher-Yates from the end).
    /// </summary>
    private static readonly int[] Seed1Epoch0 =
        [12, 34, 26, 27, 19, 28, 13, 3, 7, 5, 29, 17, 24, 8, 30, 10, 21, 23, 37, 35, 1, 33, 25, 6, 14, 22, 36, 9, 18, 0, 38, 32, 4, 16, 2, 11, 20, 15, 31, 39];
    private static readonly int[] Seed1Epoch1 =
        [9, 29, 1, 0, 7, 13, 19, 23, 21, 15, 33, 16, 2, 3, 14, 10, 28, 27, 31, 32, 35, 4, 25, 18, 6, 37, 36, 30, 24, 12, 38, 34, 22, 26, 8, 11, 5, 17, 39, 20];

    private readonly DataFolder _folder = new();

    public FashionMnistDataTests() => _folder.WriteFashionMnist();

    public void Dispose() => _folder.Dispose();

    private TrainingData Load(ModelConfig? model = null, BatchShape? shape = null, int validation = 10) =>
        TrainingData.Load(_folder.Fashion(validation), model ?? Mlp, shape ?? Shape);

    /// <summary>The images of a filled batch, read back from their first pixel; every pixel and the label checked against that image.</summary>
    private static int[] ImagesOf(Batch batch)
    {
        var images = new int[batch.Shape.Batch];
        for (int slot = 0; slot < images.Length; slot++)
        {
            int image = (int)Math.Round(batch.Features![slot * 784] * 255);
            for (int p = 0; p < 784; p++)
                Assert.Equal((double)((float)DataFolder.Pixel(image, p) / 255f), batch.Features[slot * 784 + p]);
            Assert.Equal(DataFolder.Label(image), batch.Targets[slot]);
            images[slot] = image;
        }
        return images;
    }

    [Fact]
    public void CountsAndDescription()
    {
        var data = Load();
        Assert.Equal(40, data.TrainingExamples);
        Assert.Equal(5, data.BatchesPerEpoch);
        Assert.True(data.HasTest);
        Assert.Equal("fashion-mnist: 40 training, 10 validation, 20 test images", data.Describe());
    }

    [Fact]
    public void TrainingBatchesAreTheRecipesPermutation()
    {
        var data = Load();
        var batch = Batch.Allocate(Mlp, Shape);
        for (int k = 0; k < data.BatchesPerEpoch; k++)
        {
            data.FillTrainingBatch(1, 0, k, batch);
            Assert.Equal(Seed1Epoch0[(k * 7)..(k * 7 + 7)], ImagesOf(batch));
        }
        data.FillTrainingBatch(1, 1, 3, batch);
        Assert.Equal(Seed1Epoch1[21..28], ImagesOf(batch));
    }

    [Fact]
    public void CnnBatchesHoldTheSamePixels()
    {
        var data = Load(Cnn);
        var batch = Batch.Allocate(Cnn, Shape);
        Assert.Equal(7 * 784, batch.Features!.Length);
        data.FillTrainingBatch(1, 0, 0, batch);
        Assert.Equal(Seed1Epoch0[..7], ImagesOf(batch));
    }

    [Fact]
    public void EveryTrainingExampleOncePerEpochAndEpochsDiffer()
    {
        var data = Load();
        var batch = Batch.Allocate(Mlp, Shape);
        var orders = new List<int[]>();
        for (int epoch = 0; epoch < 4; epoch++)
        {
            var order = new List<int>();
            for (int k = 0; k < data.BatchesPerEpoch; k++)
            {
                data.FillTrainingBatch(5, epoch, k, batch);
                order.AddRange(ImagesOf(batch));
            }
            Assert.Equal(35, order.Distinct().Count());
            Assert.All(order, image => Assert.InRange(image, 0, 39)); // never a validation image
            orders.Add([.. order]);
        }
        for (int a = 0; a < orders.Count; a++)
            for (int b = a + 1; b < orders.Count; b++)
                Assert.NotEqual(orders[a], orders[b]);
    }

    [Fact]
    public void SameSeedAndEpochGiveTheSameBatch()
    {
        var data = Load();
        var batch = Batch.Allocate(Mlp, Shape);
        data.FillTrainingBatch(3, 2, 4, batch);
        int[] first = ImagesOf(batch);
        data.FillTrainingBatch(3, 7, 4, batch);
        Assert.NotEqual(first, ImagesOf(batch));
        data.FillTrainingBatch(4, 2, 4, batch);
        Assert.NotEqual(first, ImagesOf(batch));
        data.FillTrainingBatch(3, 2, 4, batch);
        Assert.Equal(first, ImagesOf(batch));
        Assert.Equal(first, ImagesOf(FillFresh(Load(), 3, 2, 4))); // a counter, not a state: a new loader gives the same batch
    }

    private static Batch FillFresh(TrainingData data, ulong seed, int epoch, int index)
    {
        var batch = Batch.Allocate(Mlp, Shape);
        data.FillTrainingBatch(seed, epoch, index, batch);
        return batch;
    }

    [Fact]
    public void EvaluationIsInOrderAndTheLastBatchIsPadded()
    {
        var data = Load();
        var batch = Batch.Allocate(Mlp, Shape);
        Assert.Equal(2, data.EvaluationBatches(Split.Validation)); // the last 10 training images
        Assert.Equal(7, data.FillEvaluationBatch(Split.Validation, 0, batch));
        Assert.Equal([40, 41, 42, 43, 44, 45, 46], ImagesOf(batch));
        Assert.Equal(3, data.FillEvaluationBatch(Split.Validation, 1, batch));
        Assert.Equal([47, 48, 49, 40, 41, 42, 43], ImagesOf(batch));

        Assert.Equal(3, data.EvaluationBatches(Split.Test));
        Assert.Equal(7, data.FillEvaluationBatch(Split.Test, 1, batch));
        Assert.Equal([7, 8, 9, 10, 11, 12, 13], ImagesOf(batch));
        Assert.Equal(6, data.FillEvaluationBatch(Split.Test, 2, batch));
        Assert.Equal([14, 15, 16, 17, 18, 19, 0], ImagesOf(batch));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.FillEvaluationBatch(Split.Test, 3, batch));
    }

    [Fact]
    public void ASplitSmallerThanABatchIsPaddedByRepeatingIt()
    {
        var data = Load(validation: 3);
        var batch = Batch.Allocate(Mlp, Shape);
        Assert.Equal(1, data.EvaluationBatches(Split.Validation));
        Assert.Equal(3, data.FillEvaluationBatch(Split.Validation, 0, batch));
        Assert.Equal([47, 48, 49, 47, 48, 49, 47], ImagesOf(batch));
    }

    [Fact]
    public void DrawingATrainingBatchAllocatesNothing() => DataFolder.AssertDrawsWithoutAllocating(Load(), Batch.Allocate(Mlp, Shape));

    [Fact]
    public void ABatchOfAnotherShapeOrModelIsRefused()
    {
        var data = Load();
        Assert.Throws<ArgumentException>(() => data.FillTrainingBatch(1, 0, 0, Batch.Allocate(Mlp, new BatchShape(8))));
        Assert.Throws<ArgumentException>(() => data.FillTrainingBatch(1, 0, 0, Batch.Allocate(new LstmConfig(256, 4, 4, 1), new BatchShape(7, 3))));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.FillTrainingBatch(1, 0, 5, Batch.Allocate(Mlp, Shape)));
        Assert.Throws<ArgumentException>(() => Load(new MlpConfig([100, 10])));
    }

    public static TheoryData<string, string, string> Corruptions => new()
    {
        { "truncated gzip", "train-images-idx3-ubyte.gz", "truncated: the header says 50 images (39,200 bytes), the data ends after" },
        { "checksum", "train-images-idx3-ubyte.gz", "not a valid gzip file, or its data is corrupt" },
        { "not gzip", "train-labels-idx1-ubyte.gz", "not a valid gzip file, or its data is corrupt" },
        { "image magic", "train-images-idx3-ubyte.gz", "IDX magic is 0x00000802, expected 0x00000803" },
        { "label magic", "t10k-labels-idx1-ubyte.gz", "IDX magic is 0x00000803, expected 0x00000801" },
        { "dims", "train-images-idx3-ubyte.gz", "images are 28x27, expected 28x28" },
        { "short data", "t10k-images-idx3-ubyte.gz", "truncated: the header says 20 images (15,680 bytes), the data ends after 15,679" },
        { "short header", "train-labels-idx1-ubyte.gz", "truncated: the IDX header is 8 bytes, the data ends after 6" },
        { "trailing bytes", "train-images-idx3-ubyte.gz", "trailing data: more bytes than the header's 50 images (39,200 bytes)" },
        { "label 10", "train-labels-idx1-ubyte.gz", "label 10 at index 13, outside [0, 10)" },
        { "count mismatch", "t10k-labels-idx1-ubyte.gz", "19 labels, but " },
        { "no images", "t10k-images-idx3-ubyte.gz", "holds no images" },
        { "2^31 images", "train-images-idx3-ubyte.gz", "the header says 2,147,483,648 images (1,683,627,180,032 bytes), more than a gzip file of" },
        { "2^32-1 labels", "train-labels-idx1-ubyte.gz", "the header says 4,294,967,295 labels" },
        { "missing", "t10k-labels-idx1-ubyte.gz", "not found: 'path' names a folder of the four IDX files of Debian's dataset-fashion-mnist" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void ACorruptFileIsOneLineNamingIt(string corruption, string name, string expected)
    {
        string path = _folder.File(name);
        byte[] images = DataFolder.ImagesIdx(DataFolder.TrainingImages);
        switch (corruption)
        {
            case "truncated gzip":
                byte[] gz = File.ReadAllBytes(path);
                File.WriteAllBytes(path, gz[..(gz.Length / 2)]);
                break;
            case "checksum":
                byte[] flipped = File.ReadAllBytes(path);
                flipped[^8] ^= 1; // the CRC-32 of the gzip trailer
                File.WriteAllBytes(path, flipped);
                break;
            case "not gzip":
                File.WriteAllBytes(path, DataFolder.LabelsIdx(DataFolder.TrainingImages));
                break;
            case "image magic":
                _folder.WriteGz(name, DataFolder.Idx(0x802, [50, 28, 28], images[16..]));
                break;
            case "label magic":
                _folder.WriteGz(name, DataFolder.Idx(0x803, [20], DataFolder.LabelsIdx(20)[8..]));
                break;
            case "dims":
                _folder.WriteGz(name, DataFolder.Idx(0x803, [50, 28, 27], images[16..(16 + 50 * 28 * 27)]));
                break;
            case "short data":
                _folder.WriteGz(name, DataFolder.ImagesIdx(DataFolder.TestImages)[..^1]);
                break;
            case "short header":
                _folder.WriteGz(name, DataFolder.LabelsIdx(50)[..6]);
                break;
            case "trailing bytes":
                _folder.WriteGz(name, [.. images, 0]);
                break;
            case "label 10":
                byte[] labels = DataFolder.LabelsIdx(DataFolder.TrainingImages);
                labels[8 + 13] = 10;
                _folder.WriteGz(name, labels);
                break;
            case "count mismatch":
                _folder.WriteGz(name, DataFolder.LabelsIdx(19));
                break;
            case "no images":
                _folder.WriteGz(name, DataFolder.Idx(0x803, [0, 28, 28], []));
                break;
            case "2^31 images":
                _folder.WriteGz(name, DataFolder.Idx(0x803, [1u << 31, 28, 28], images[16..1000]));
                break;
            case "2^32-1 labels":
                _folder.WriteGz(name, DataFolder.Idx(0x801, [uint.MaxValue], new byte[100]));
                break;
            case "missing":
                File.Delete(path);
                break;
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<KernelLabException>(() => Load());
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "a header's count allocated before it was bounded");
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ValidationMustLeaveABatchForTraining()
    {
        var e = Assert.Throws<KernelLabException>(() => Load(validation: 44));
        Assert.Equal($"{_folder.File("train-images-idx3-ubyte.gz")}: 50 images less 'validation' 44 leave 6 for training, fewer than one batch of 7", e.Message);
        Assert.Equal(7, Load(validation: 43).TrainingExamples);
    }

    [Fact]
    public void AMissingFolderNamesThePackage()
    {
        string folder = _folder.File("absent");
        var e = Assert.Throws<KernelLabException>(() => TrainingData.Load(new FashionMnistSpec(10, folder), Mlp, Shape));
        Assert.StartsWith($"{folder}: not found", e.Message);
        Assert.Contains("dataset-fashion-mnist", e.Message);
        if (!Directory.Exists(FashionMnistSpec.DefaultFolder))
        {
            e = Assert.Throws<KernelLabException>(() => TrainingData.Load(new FashionMnistSpec(10, FashionMnistSpec.DefaultFolder), Mlp, Shape));
            Assert.Equal($"{FashionMnistSpec.DefaultFolder}: not found: install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist), or give \"path\"", e.Message);
        }
    }

    [Fact]
    public void RealFashionMnist()
    {
        if (!Directory.Exists(FashionMnistSpec.DefaultFolder))
            Assert.Skip("dataset-fashion-mnist is not installed");
        var shape = new BatchShape(100);
        var data = TrainingData.Load(new FashionMnistSpec(5000, FashionMnistSpec.DefaultFolder), Mlp, shape);
        Assert.Equal("fashion-mnist: 55,000 training, 5,000 validation, 10,000 test images", data.Describe());
        Assert.Equal(550, data.BatchesPerEpoch);
        Assert.Equal(50, data.EvaluationBatches(Split.Validation));
        var batch = Batch.Allocate(Mlp, shape);
        var perClass = new int[10];
        for (int k = 0; k < data.EvaluationBatches(Split.Test); k++)
        {
            Assert.Equal(100, data.FillEvaluationBatch(Split.Test, k, batch));
            foreach (int label in batch.Targets)
                perClass[label]++;
        }
        Assert.All(perClass, count => Assert.Equal(1000, count));
        data.FillTrainingBatch(1, 0, 549, batch);
        Assert.All(batch.Features!, x => Assert.InRange(x, 0.0, 1.0));
        Assert.Contains(batch.Features!, x => x == 1.0);
    }
}
