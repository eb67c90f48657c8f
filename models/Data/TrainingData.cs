using KernelLab.Backends;

namespace KernelLab.Models.Data;

/// <summary>The held-out examples a network is evaluated on.</summary>
public enum Split
{
    Validation,
    Test,
}

/// <summary>
/// A data set on the host, drawn as models/Data/README.md says: training batches in an order that is a function of
/// (seed, epoch) alone, evaluation batches in order. Every batch is filled in place into a <see cref="Batch"/> of
/// <see cref="Batch.Allocate"/>, so that drawing allocates nothing once an epoch's order is computed. One training loop
/// draws from an instance: the epoch's order is kept between calls, not locked.
/// </summary>
public abstract class TrainingData
{
    private readonly Examples _training;
    private readonly int[] _order; // the epoch's permutation of the training examples
    private ulong _orderSeed;
    private int _orderEpoch = -1;
    private readonly Augmenter? _augmenter;

    private protected TrainingData(Examples training, BatchShape shape, Augmenter? augmenter = null)
    {
        _training = training;
        Shape = shape;
        _order = new int[training.Count];
        _augmenter = augmenter;
    }

    /// <summary>Reads the data set's files; every failure is one line that names the file.</summary>
    public static TrainingData Load(DataSpec spec, ModelConfig model, BatchShape shape)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shape.Batch, 1, nameof(shape));
        ArgumentOutOfRangeException.ThrowIfLessThan(shape.Steps, 1, nameof(shape));
        if (DataSpec.Mismatch(spec, model) is { } problem)
            throw new ArgumentException($"the model cannot read the data: {problem}", nameof(model));
        return spec switch
        {
            FashionMnistSpec fashion => FashionMnistData.Load(fashion, shape),
            TextSpec text => TextData.Load(text, shape),
            _ => throw new ArgumentException($"no loader for {spec}", nameof(spec)),
        };
    }

    /// <summary>The shape every batch has: B, and T for text.</summary>
    public BatchShape Shape { get; }

    public int TrainingExamples => _training.Count;

    /// <summary>floor(n / B): the last partial batch of an epoch is dropped.</summary>
    public int BatchesPerEpoch => TrainingExamples / Shape.Batch;

    /// <summary>Whether there is a <see cref="Split.Test"/> split (image data; text has validation only).</summary>
    public bool HasTest => Held(Split.Test) is not null;

    /// <summary>Fills <paramref name="batch"/> with batch <paramref name="index"/> of epoch <paramref name="epoch"/> for <paramref name="seed"/>.</summary>
    public void FillTrainingBatch(ulong seed, int epoch, int index, Batch batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, BatchesPerEpoch);
        Check(batch);
        if (epoch != _orderEpoch || seed != _orderSeed)
        {
            Shuffle(_order, EpochSeed(seed, epoch));
            (_orderSeed, _orderEpoch) = (seed, epoch);
        }
        int first = index * Shape.Batch;
        for (int slot = 0; slot < Shape.Batch; slot++)
            _training.CopyTo(_order[first + slot], batch, slot);
        _augmenter?.Apply(batch, unchecked(EpochSeed(seed, epoch) + 0xD1B54A32D192ED03UL * ((ulong)index + 1)));
    }

    /// <summary>Evaluation batches of the split: every example once (image data) or every full batch (text).</summary>
    public int EvaluationBatches(Split split)
    {
        var examples = Evaluated(split);
        return examples.Padded ? (examples.Count + Shape.Batch - 1) / Shape.Batch : examples.Count / Shape.Batch;
    }

    /// <summary>
    /// Fills <paramref name="batch"/> with evaluation batch <paramref name="index"/> of the split, in order; a last batch
    /// past the split's end is padded with copies of its first examples. Returns how many of the batch's examples are real.
    /// </summary>
    public int FillEvaluationBatch(Split split, int index, Batch batch)
    {
        var examples = Evaluated(split);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, EvaluationBatches(split));
        Check(batch);
        int first = index * Shape.Batch;
        for (int slot = 0; slot < Shape.Batch; slot++)
        {
            int example = first + slot;
            examples.CopyTo(example < examples.Count ? example : (example - examples.Count) % examples.Count, batch, slot);
        }
        return Math.Min(Shape.Batch, examples.Count - first);
    }

    /// <summary>One line for results and logs: the data set and the size of each split.</summary>
    public abstract string Describe();

    /// <summary>The generator seed of an epoch's order: (seed + 0x9E3779B97F4A7C15 * (epoch + 1)) mod 2^64.</summary>
    private static ulong EpochSeed(ulong seed, int epoch) => unchecked(seed + 0x9E3779B97F4A7C15UL * ((ulong)epoch + 1));

    /// <summary>Fisher-Yates over 0..n-1 with <see cref="SeededRandom"/>(<paramref name="seed"/>): i from n-1 down to 1 swaps with NextInt(i + 1).</summary>
    private static void Shuffle(int[] order, ulong seed)
    {
        var random = new SeededRandom(seed);
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        for (int i = order.Length - 1; i >= 1; i--)
        {
            int j = random.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    /// <summary>
    /// The one line for a missing data file or folder: the Debian package that installs it where one does
    /// (<paramref name="package"/>), then <paramref name="more"/>.
    /// </summary>
    private protected static KernelLabException NotFound(string path, string? package, string more = "") =>
        new($"{path}: not found{(package is null ? "" : $": install Debian's {package} (apt-get install {package})")}{more}");

    /// <summary>The held-out examples of <paramref name="split"/>, or null where the data set has none.</summary>
    private protected abstract Examples? Held(Split split);

    private Examples Evaluated(Split split) =>
        Held(split) ?? throw new InvalidOperationException($"{Describe()}: there is no {split.ToString().ToLowerInvariant()} split");

    private void Check(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Shape != Shape || !_training.Fits(batch))
            throw new ArgumentException($"the batch is not one of Batch.Allocate for this data's model at {Shape}", nameof(batch));
    }

    /// <summary>
    /// Augments every image of a training batch in place, from one generator per batch (README.md, "Augmentation"): for each
    /// slot in order, the crop's top and left offsets into the zero-padded image (NextInt(2p + 1) each), then the flip
    /// (NextDouble() &lt; 0.5). A scratch image and a reseeded generator keep a batch from allocating.
    /// </summary>
    private protected sealed class Augmenter(Augment augment, int channels, int height, int width)
    {
        private readonly double[] _image = new double[channels * height * width];
        private readonly SeededRandom _random = new(0);

        public void Apply(Batch batch, ulong seed)
        {
            var random = _random;
            random.Reseed(seed);
            int p = augment.CropPadding, plane = height * width;
            for (int slot = 0; slot < batch.Shape.Batch; slot++)
            {
                var x = batch.Features.AsSpan(slot * _image.Length, _image.Length);
                x.CopyTo(_image);
                int top = p > 0 ? random.NextInt(2 * p + 1) : p, left = p > 0 ? random.NextInt(2 * p + 1) : p;
                bool flip = augment.HFlip && random.NextDouble() < 0.5;
                for (int c = 0; c < channels; c++)
                    for (int i = 0; i < height; i++)
                        for (int j = 0; j < width; j++)
                        {
                            // Output (i, j) is padded pixel (i + top, j + left), that is source (i + top - p, j + left - p); a flip reads column W-1-j.
                            int si = i + top - p, sj = (flip ? width - 1 - j : j) + left - p;
                            x[c * plane + i * width + j] = si >= 0 && si < height && sj >= 0 && sj < width ? _image[c * plane + si * width + sj] : 0;
                        }
            }
        }
    }

    /// <summary>A split: examples numbered from 0, each copied into one slot of a batch.</summary>
    private protected abstract class Examples
    {
        public abstract int Count { get; }

        /// <summary>Whether the last evaluation batch is padded (image data) or dropped when partial (text).</summary>
        public abstract bool Padded { get; }

        /// <summary>Whether <paramref name="batch"/> has the arrays <see cref="CopyTo"/> writes, of their lengths.</summary>
        public abstract bool Fits(Batch batch);

        /// <summary>Writes example <paramref name="example"/> as sample <paramref name="slot"/> of the batch.</summary>
        public abstract void CopyTo(int example, Batch batch, int slot);
    }
}
