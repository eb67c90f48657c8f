using KernelLab.Backends;
using KernelLab.Models.Safetensors;

namespace KernelLab.Models;

/// <summary>The batch dimensions a network is built for: B, and T for sequence models (1 otherwise).</summary>
public readonly record struct BatchShape(int Batch, int Steps = 1);

/// <summary>
/// A batch on the host, checked against its config: x real [B, ...] (mlp, cnn) or token ids [B, T]
/// (lstm, transformer); y class ids [B] or next-token ids [B, T], every id in range.
/// </summary>
public sealed class Batch
{
    private Batch(BatchShape shape, double[]? features, int[]? tokens, int[] targets)
    {
        Shape = shape;
        Features = features;
        Tokens = tokens;
        Targets = targets;
    }

    public BatchShape Shape { get; }

    /// <summary>x of mlp [B, sizes[0]] and cnn [B, C, H, W]; null for sequence models.</summary>
    public double[]? Features { get; }

    /// <summary>x of lstm and transformer [B, T]; null otherwise.</summary>
    public int[]? Tokens { get; }

    /// <summary>y: [B] or [B, T].</summary>
    public int[] Targets { get; }

    public static Batch Load(string path, ModelConfig config) => FromFile(SafetensorsFile.Read(path), config);

    public static Batch FromFile(SafetensorsFile file, ModelConfig config)
    {
        if (!file.Contains("x"))
            throw new KernelLabException($"{file.Path}: tensor 'x' is missing, expected the inputs of a {config.Family} model (a batch holds x and y)");
        // The rule of parameter files too: a file holds the tensors it is read for and nothing else, so a tensor that
        // would be ignored (a misnamed target, a file of the wrong kind) is an error rather than a silent surprise.
        if (file.Tensors.FirstOrDefault(t => t.Name is not ("x" or "y")) is { } extra)
            throw new KernelLabException($"{file.Path}: tensor {SafetensorsFile.Quote(extra.Name)} is not part of a batch (a batch holds x and y, nothing else)");
        var x = file.Info("x");
        long b = x.Shape.Count > 0 ? x.Shape[0] : -1;
        long[] expected = config switch
        {
            MlpConfig m => [b, m.Sizes[0]],
            CnnConfig c => [b, c.InChannels, c.Height, c.Width],
            _ => [b, x.Shape.Count > 1 ? x.Shape[1] : -1],
        };
        string pattern = config switch
        {
            MlpConfig m => $"[B, {m.Sizes[0]}]",
            CnnConfig c => $"[B, {c.InChannels}, {c.Height}, {c.Width}]",
            _ => "[B, T]",
        };
        if (b < 1 || b > int.MaxValue || !x.Shape.SequenceEqual(expected) || (config.IsSequence && expected[1] < 1))
            throw new KernelLabException($"{file.Path}: tensor 'x' has shape {TensorInfo.FormatShape(x.Shape.ToArray())}, expected {pattern} for a {config.Family} model");

        int steps = config.IsSequence ? (int)expected[1] : 1;
        if (config is TransformerConfig t && steps > t.Context)
            throw new KernelLabException($"{file.Path}: tensor 'x' has T = {steps}, more than the model's context {t.Context}");

        var shape = new BatchShape((int)b, steps);
        long[] targetShape = config.IsSequence ? [b, steps] : [b];
        int[] targets = file.ReadIndices("y", targetShape);
        CheckRange(file.Path, "y", targets, config.Classes, config.IsSequence ? "vocab" : "classes");
        if (!config.IsSequence)
            return new Batch(shape, file.ReadReal("x", expected), null, targets);

        int[] tokens = file.ReadIndices("x", expected);
        CheckRange(file.Path, "x", tokens, config.Classes, "vocab");
        return new Batch(shape, null, tokens, targets);
    }

    /// <summary>
    /// A batch of zeros of the sizes <paramref name="config"/> and <paramref name="shape"/> give, for a loader to fill in
    /// place, step after step, without allocating.
    /// </summary>
    public static Batch Allocate(ModelConfig config, BatchShape shape)
    {
        if (config.IsSequence)
        {
            int rows = (int)TensorLength.Of("the batch's y", shape.Batch, shape.Steps);
            return new Batch(shape, null, new int[rows], new int[rows]);
        }
        var x = new double[TensorLength.Of("the batch's x", shape.Batch, config.InputLength)];
        return new Batch(shape, x, null, new int[shape.Batch]);
    }

    /// <summary>A seeded synthetic batch: x ~ N(0, 1) or uniform token ids, y uniform ids.</summary>
    public static Batch Synthetic(ModelConfig config, BatchShape shape, ulong seed)
    {
        var random = new SeededRandom(seed);
        var batch = Allocate(config, shape);
        void Ids(int[] ids)
        {
            for (int i = 0; i < ids.Length; i++)
                ids[i] = random.NextInt(config.Classes);
        }
        if (batch.Features is { } x)
        {
            for (int i = 0; i < x.Length; i++)
                x[i] = (float)random.NextGaussian();
        }
        else
        {
            Ids(batch.Tokens!);
        }
        Ids(batch.Targets);
        return batch;
    }

    private static void CheckRange(string path, string tensor, int[] ids, int count, string what)
    {
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)count)
                throw new KernelLabException($"{path}: tensor '{tensor}' holds id {ids[i]} at flat index {i}, outside [0, {count}) ({what})");
    }
}
