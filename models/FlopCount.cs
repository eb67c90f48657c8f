namespace KernelLab.Models;

/// <summary>
/// The arithmetic of one training step (forward and backward) of a model, in FLOP, as GFLOP/s figures count it:
/// the multiply-adds of the GEMMs, convolutions and attention products (2 FLOP each), the backward twice the
/// forward (input and weight gradients). Element-wise work (activations, bias, LayerNorm, batch norm, dropout, the
/// recurrent cells, softmax, the optimizer) is left out, as it usually is: it is small beside the products and is bound by memory, not arithmetic.
/// </summary>
public static class FlopCount
{
    /// <summary>FLOP of one forward + backward pass over a batch of <paramref name="shape"/>.</summary>
    public static double TrainingStep(ModelConfig config, BatchShape shape) => 3 * 2 * ForwardMultiplyAdds(config, shape);

    /// <summary>Multiply-adds of one forward pass.</summary>
    public static double ForwardMultiplyAdds(ModelConfig config, BatchShape shape)
    {
        double b = shape.Batch, tokens = (double)shape.Batch * shape.Steps;
        switch (config)
        {
            case MlpConfig m:
                return b * Enumerable.Range(1, m.Sizes.Count - 1).Sum(i => (double)m.Sizes[i - 1] * m.Sizes[i]);
            case CnnConfig c:
            {
                double perSample = 0;
                int inChannels = c.InChannels;
                for (int i = 0; i < c.Channels.Count; i++)
                {
                    var (h, w) = c.SpatialAfter(i);
                    perSample += (double)c.Channels[i] * inChannels * c.KernelSize * c.KernelSize * h * w;
                    inChannels = c.Channels[i];
                }
                var (fh, fw) = c.SpatialAfter(c.Channels.Count);
                perSample += (double)inChannels * fh * fw * c.Hidden + (double)c.Hidden * c.ClassCount;
                return b * perSample;
            }
            case RecurrentConfig l:
            {
                double gates = (double)l.Gates * l.Hidden;                            // 4H (lstm) or 3H (gru)
                double perToken = gates * l.Embed + gates * l.Hidden                    // layer 0: W_ih, W_hh
                    + (l.Layers - 1) * (gates * l.Hidden + gates * l.Hidden)           // layers above: input is h
                    + (double)l.Hidden * l.Vocab;                                      // head
                return tokens * perToken;
            }
            case TransformerConfig t:
            {
                double d = t.DModel;
                double perTokenPerLayer = 3 * d * d + d * d + 2 * d * t.Ffn;           // attn_qkv, attn_proj, mlp_fc, mlp_proj
                // q.k and p.v over the causal keys: query t sees t + 1 keys, T(T+1)/2 pairs per sequence and head.
                double attentionPerLayer = 2 * b * d * (shape.Steps * (shape.Steps + 1) / 2.0);
                return t.Layers * (tokens * perTokenPerLayer + attentionPerLayer) + tokens * d * t.Vocab;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(config));
        }
    }
}
