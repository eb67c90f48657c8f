using System.Buffers.Binary;
using System.IO.Compression;
using KernelLab.Models;
using KernelLab.Models.Data;

namespace KernelLab.Tests.Data;

/// <summary>
/// A temporary folder for data files: tiny fashion-mnist IDX files whose pixels say which image they are, and text files;
/// and the check, common to both data sets, that drawing a batch allocates nothing.
/// </summary>
public sealed class DataFolder : IDisposable
{
    public const int TrainingImages = 50;
    public const int TestImages = 20;

    public DataFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kernellab-data-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(Path, recursive: true);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Pixel <paramref name="p"/> of image <paramref name="image"/>: pixel 0 is the image's number, so a batch shows which images it holds.</summary>
    public static byte Pixel(int image, int p) => (byte)((image + p * 13) % 256);

    public static byte Label(int image) => (byte)(image % 10);

    /// <summary>An IDX file: the magic, each dimension (big-endian uint32), then the data.</summary>
    public static byte[] Idx(uint magic, uint[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, magic);
        for (int d = 0; d < dims.Length; d++)
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static byte[] ImagesIdx(int count) =>
        Idx(0x803, [(uint)count, 28, 28], Enumerable.Range(0, count * 784).Select(i => Pixel(i / 784, i % 784)).ToArray());

    public static byte[] LabelsIdx(int count) => Idx(0x801, [(uint)count], Enumerable.Range(0, count).Select(Label).ToArray());

    public static byte[] Gzip(byte[] content)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Optimal))
            gzip.Write(content);
        return memory.ToArray();
    }

    /// <summary>The four files of a data set of <see cref="TrainingImages"/> training and <see cref="TestImages"/> test images.</summary>
    public void WriteFashionMnist()
    {
        WriteGz("train-images-idx3-ubyte.gz", ImagesIdx(TrainingImages));
        WriteGz("train-labels-idx1-ubyte.gz", LabelsIdx(TrainingImages));
        WriteGz("t10k-images-idx3-ubyte.gz", ImagesIdx(TestImages));
        WriteGz("t10k-labels-idx1-ubyte.gz", LabelsIdx(TestImages));
    }

    public string WriteGz(string name, byte[] content) => Write(name, Gzip(content));

    public string Write(string name, byte[] content)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, content);
        return path;
    }

    public FashionMnistSpec Fashion(int validation = 10) => new(validation, Path);

    /// <summary>Draws 300 training batches of one epoch after a warm-up pass over it, and asserts that they allocated nothing.</summary>
    public static void AssertDrawsWithoutAllocating(TrainingData data, Batch batch)
    {
        for (int k = 0; k < data.BatchesPerEpoch; k++)
            data.FillTrainingBatch(9, 0, k, batch);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 300; i++)
            data.FillTrainingBatch(9, 0, i % data.BatchesPerEpoch, batch);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
