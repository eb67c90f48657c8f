using System.Buffers.Binary;
using System.IO.Compression;
using KernelLab.Backends;

namespace KernelLab.Models.Data;

/// <summary>
/// fashion-mnist from its four gzipped IDX files: the training file's images split into training and the last
/// 'validation', the t10k file's the test set. Pixels stay bytes (55 MB for the 70,000 images, not 440 MB of doubles)
/// until a batch is filled.
/// </summary>
internal sealed class FashionMnistData : TrainingData
{
    /// <summary>
    /// The most bytes deflate expands one compressed byte to (zlib's FAQ: "the limit is 1032:1"): a header that counts more
    /// images than its file can hold is refused before anything of its size is allocated.
    /// </summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>float32(v) / 255f for each byte value v: the pixel values of torch.tensor(v).float() / 255.</summary>
    private static readonly double[] PixelValues = Enumerable.Range(0, 256).Select(v => (double)((float)v / 255f)).ToArray();

    private readonly Images _validation;
    private readonly Images _test;

    private FashionMnistData(Images training, Images validation, Images test, BatchShape shape, Augment? augment)
        : base(training, shape, augment is null ? null : new Augmenter(augment, 1, FashionMnistSpec.Side, FashionMnistSpec.Side))
    {
        _validation = validation;
        _test = test;
    }

    public static FashionMnistData Load(FashionMnistSpec spec, BatchShape shape)
    {
        if (!Directory.Exists(spec.Folder))
            throw Missing(spec, spec.Folder);
        var (trainingPath, trainingPixels, trainingLabels) = ReadImages(spec, "train");
        var (_, testPixels, testLabels) = ReadImages(spec, "t10k");
        int training = trainingLabels.Length - spec.Validation;
        if (training < shape.Batch)
            throw new KernelLabException($"{trainingPath}: {trainingLabels.Length:N0} images less 'validation' {spec.Validation:N0} leave {training:N0} for training, " +
                $"fewer than one batch of {shape.Batch}");
        return new FashionMnistData(
            new Images(trainingPixels, trainingLabels, 0, training),
            new Images(trainingPixels, trainingLabels, training, spec.Validation),
            new Images(testPixels, testLabels, 0, testLabels.Length),
            shape, spec.Augment);
    }

    public override string Describe() =>
        $"{FashionMnistSpec.Name}: {TrainingExamples:N0} training, {_validation.Count:N0} validation, {_test.Count:N0} test images";

    private protected override Examples Held(Split split) => split == Split.Validation ? _validation : _test;

    private static KernelLabException Missing(FashionMnistSpec spec, string path) => spec.Folder == FashionMnistSpec.DefaultFolder
        ? NotFound(path, FashionMnistSpec.Package, ", or give \"path\"")
        : NotFound(path, null, $": 'path' names a folder of the four IDX files of Debian's {FashionMnistSpec.Package}");

    /// <summary>The images and labels of <paramref name="set"/> ("train" or "t10k"), and the images' path for messages.</summary>
    private static (string Path, byte[] Pixels, byte[] Labels) ReadImages(FashionMnistSpec spec, string set)
    {
        string imagesPath = Path.Combine(spec.Folder, $"{set}-images-idx3-ubyte.gz");
        string labelsPath = Path.Combine(spec.Folder, $"{set}-labels-idx1-ubyte.gz");
        byte[] pixels = ReadIdx(spec, imagesPath, "images", [FashionMnistSpec.Side, FashionMnistSpec.Side]);
        byte[] labels = ReadIdx(spec, labelsPath, "labels", []);
        int images = pixels.Length / FashionMnistSpec.Pixels;
        if (labels.Length != images)
            throw new KernelLabException($"{labelsPath}: {labels.Length:N0} labels, but {imagesPath} holds {images:N0} images");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= FashionMnistSpec.Classes)
                throw new KernelLabException($"{labelsPath}: label {labels[i]} at index {i:N0}, outside [0, {FashionMnistSpec.Classes})");
        return (imagesPath, pixels, labels);
    }

    /// <summary>
    /// The data of a gzipped IDX file of unsigned bytes, [count, ..<paramref name="itemShape"/>]. The header is bounded (by
    /// what the file can hold, and by what one array holds) before the data is allocated, and exactly that many bytes must follow.
    /// </summary>
    private static byte[] ReadIdx(FashionMnistSpec spec, string path, string items, int[] itemShape)
    {
        if (!File.Exists(path))
            throw Missing(spec, path);
        return InputFile.Read(path, "gzipped IDX file", file =>
        {
            try
            {
                using var gzip = new GZipStream(file, CompressionMode.Decompress);
                long[] shape = new long[1 + itemShape.Length];
                var header = new byte[4 + 4 * shape.Length]; // the magic, then each dimension: big-endian uint32
                int read = gzip.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
                if (read < header.Length)
                    throw new KernelLabException($"{path}: truncated: the IDX header is {header.Length} bytes, the data ends after {read}");
                uint magic = BinaryPrimitives.ReadUInt32BigEndian(header);
                uint expected = 0x0800u | (uint)shape.Length; // 0x08: unsigned bytes; then the number of dimensions
                if (magic != expected)
                    throw new KernelLabException($"{path}: IDX magic is 0x{magic:X8}, expected 0x{expected:X8} ({items}: unsigned bytes, {shape.Length} dimensions)");
                for (int d = 0; d < shape.Length; d++)
                    shape[d] = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4 + 4 * d));
                if (!shape.AsSpan(1).SequenceEqual(Array.ConvertAll(itemShape, s => (long)s)))
                    throw new KernelLabException($"{path}: {items} are {string.Join("x", shape[1..])}, expected {string.Join("x", itemShape)}");
                if (shape[0] == 0)
                    throw new KernelLabException($"{path}: holds no {items}, expected at least 1");
                long bytes = shape.Aggregate(1L, (product, d) => product * d); // at most 2^32 * 784: the item shape is known
                string counted = $"{shape[0]:N0} {items} ({bytes:N0} bytes)";
                if (bytes / MaxDeflateRatio > file.Length)
                    throw new KernelLabException($"{path}: the header says {counted}, more than a gzip file of {file.Length:N0} bytes can hold");
                TensorLength.Of($"{path}: the {items}", shape);
                var data = new byte[bytes];
                read = gzip.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
                if (read < data.Length)
                    throw new KernelLabException($"{path}: truncated: the header says {counted}, the data ends after {read:N0}");
                if (gzip.ReadByte() >= 0)
                    throw new KernelLabException($"{path}: trailing data: more bytes than the header's {counted}");
                return data;
            }
            catch (InvalidDataException e)
            {
                // .NET words zlib's refusal of a bad header, deflate stream or CRC-32 alike as "unsupported compression method", which would mislead.
                throw new KernelLabException($"{path}: not a valid gzip file, or its data is corrupt (a bad header, deflate stream or checksum)", e);
            }
        });
    }

    /// <summary>Images [first, first + count) of a file's pixels [n, 28, 28] and labels [n].</summary>
    private sealed class Images(byte[] pixels, byte[] labels, int first, int count) : Examples
    {
        public override int Count => count;

        public override bool Padded => true;

        public override bool Fits(Batch batch) =>
            batch.Features?.Length == batch.Shape.Batch * FashionMnistSpec.Pixels && batch.Targets.Length == batch.Shape.Batch;

        public override void CopyTo(int example, Batch batch, int slot)
        {
            var source = pixels.AsSpan((first + example) * FashionMnistSpec.Pixels, FashionMnistSpec.Pixels);
            var x = batch.Features.AsSpan(slot * FashionMnistSpec.Pixels, FashionMnistSpec.Pixels);
            for (int i = 0; i < source.Length; i++)
                x[i] = PixelValues[source[i]];
            batch.Targets[slot] = labels[first + example];
        }
    }
}
