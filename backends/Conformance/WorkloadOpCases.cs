using KernelLab.Backends.Reference;
using KernelLab.Models;
using KernelLab.Models.Networks;

namespace KernelLab.Backends.Conformance;

/// <summary>
/// The op cases a network of one workload runs in a training step, at that workload's shapes: the same calls
/// the layers in models/ make (GEMM forms, bias, activations, conv, pooling, embedding, LSTM cell, LayerNorm,
/// attention, loss and the optimizer), each shape once.
/// </summary>
public static class WorkloadOpCases
{
    /// <summary>The cases of every workload, each distinct op and shape once, in the order the workloads first use them.</summary>
    public static IReadOnlyList<(string Workload, OpCase Case)> For(IEnumerable<(string Name, ModelConfig Config, BatchShape Shape)> workloads, OptimizerSettings optimizer)
    {
        var seen = new HashSet<string>();
        var cases = new List<(string, OpCase)>();
        foreach (var (name, config, shape) in workloads)
            foreach (var c in For(config, shape, optimizer))
                if (seen.Add(c.Name))
                    cases.Add((name, c));
        return cases;
    }

    public static IEnumerable<OpCase> For(ModelConfig config, BatchShape shape, OptimizerSettings optimizer)
    {
        int b = shape.Batch, rows = shape.Batch * shape.Steps;
        IEnumerable<OpCase> layers = config switch
        {
            MlpConfig m => Mlp(m, b),
            CnnConfig c => Cnn(c, b),
            LstmConfig l => Lstm(l, shape),
            TransformerConfig t => Transformer(t, shape),
            _ => throw new ArgumentOutOfRangeException(nameof(config)),
        };
        return layers
            .Append(OpCases.SoftmaxCrossEntropy(rows, config.Classes))
            .Append(OpCases.OptimizerSteps(optimizer, ParameterCount(config, shape), steps: 1));
    }

    /// <summary>nn.Linear as <see cref="Models.Layers.Linear"/> calls the contract: forward, weight gradient, input gradient.</summary>
    private static IEnumerable<OpCase> Linear(int rows, int inFeatures, int outFeatures, bool bias = true, bool inputGrad = true)
    {
        yield return OpCases.Gemm(rows, outFeatures, inFeatures, transposeA: false, transposeB: true, accumulate: false, alpha: 1);
        yield return OpCases.Gemm(outFeatures, inFeatures, rows, transposeA: true, transposeB: false, accumulate: false, alpha: 1);
        if (inputGrad)
            yield return OpCases.Gemm(rows, inFeatures, outFeatures, transposeA: false, transposeB: false, accumulate: false, alpha: 1);
        if (bias)
            yield return OpCases.Bias(rows, outFeatures, 1);
    }

    private static IEnumerable<OpCase> Mlp(MlpConfig m, int b)
    {
        for (int i = 1; i < m.Sizes.Count; i++)
        {
            foreach (var c in Linear(b, m.Sizes[i - 1], m.Sizes[i], inputGrad: i > 1))
                yield return c;
            if (i < m.Sizes.Count - 1)
                yield return OpCases.Activation(Activation.Relu, (long)b * m.Sizes[i]);
        }
    }

    private static IEnumerable<OpCase> Cnn(CnnConfig config, int b)
    {
        int inChannels = config.InChannels;
        for (int i = 0; i < config.Channels.Count; i++)
        {
            var (h, w) = config.SpatialAfter(i);
            var conv = new Conv2dShape(b, inChannels, config.Channels[i], h, w, config.KernelSize);
            yield return OpCases.Conv2d(conv);
            yield return OpCases.Bias(b, conv.OutChannels, h * w);
            yield return OpCases.Activation(Activation.Relu, conv.OutputLength);
            yield return OpCases.MaxPool2d(new Pool2dShape(b * conv.OutChannels, h, w));
            inChannels = config.Channels[i];
        }
        var (fh, fw) = config.SpatialAfter(config.Channels.Count);
        foreach (var c in Linear(b, inChannels * fh * fw, config.Hidden))
            yield return c;
        yield return OpCases.Activation(Activation.Relu, (long)b * config.Hidden);
        foreach (var c in Linear(b, config.Hidden, config.ClassCount))
            yield return c;
    }

    private static IEnumerable<OpCase> Lstm(LstmConfig l, BatchShape shape)
    {
        int b = shape.Batch, t = shape.Steps, rows = b * t, g = 4 * l.Hidden;
        yield return OpCases.Embedding(rows, l.Vocab, l.Embed);
        for (int k = 0; k < l.Layers; k++)
        {
            int inFeatures = k == 0 ? l.Embed : l.Hidden;
            yield return OpCases.Gemm(rows, g, inFeatures, false, true, false, 1);             // x W_ih^T, all steps
            yield return OpCases.Bias(rows, g, 1);
            yield return OpCases.Gemm(b, g, l.Hidden, false, true, true, 1);                   // += h_{t-1} W_hh^T
            yield return OpCases.LstmCell(b, l.Hidden, dcPrevIsDc: true);
            yield return OpCases.Gemm(b, l.Hidden, g, false, false, true, 1);                  // dh += dPreact W_hh
            yield return OpCases.Gemm(g, inFeatures, rows, true, false, false, 1);             // dW_ih
            if (t > 1)
                yield return OpCases.Gemm(g, l.Hidden, (t - 1) * b, true, false, false, 1);    // dW_hh
            yield return OpCases.Gemm(rows, inFeatures, g, false, false, false, 1);            // dx
        }
        foreach (var c in Linear(rows, l.Hidden, l.Vocab))
            yield return c;
    }

    private static IEnumerable<OpCase> Transformer(TransformerConfig c, BatchShape shape)
    {
        int rows = shape.Batch * shape.Steps, d = c.DModel;
        yield return OpCases.Embedding(rows, c.Vocab, d);
        yield return OpCases.Bias(shape.Batch, shape.Steps * d, 1);                            // + wpe[0..T-1]
        yield return OpCases.LayerNorm(rows, d);
        foreach (var x in Linear(rows, d, 3 * d))
            yield return x;
        yield return OpCases.Attention(new AttentionShape(shape.Batch, shape.Steps, d, c.Heads));
        foreach (var x in Linear(rows, d, d))
            yield return x;
        yield return OpCases.Add((long)rows * d);
        yield return OpCases.Add((long)rows * d, intoA: true);
        foreach (var x in Linear(rows, d, c.Ffn))
            yield return x;
        yield return OpCases.Activation(Activation.GeluTanh, (long)rows * c.Ffn, inPlace: true);
        foreach (var x in Linear(rows, c.Ffn, d))
            yield return x;
        foreach (var x in Linear(rows, d, c.Vocab, bias: false))
            yield return x;
    }

    // The optimizer runs over every parameter; one step over their total length stands for it.
    private static long ParameterCount(ModelConfig config, BatchShape shape)
    {
        using var reference = new ReferenceBackend();
        using var network = Network.Create(reference, config, shape with { Batch = 1 });
        return network.Parameters.All.Sum(p => p.Length);
    }
}
