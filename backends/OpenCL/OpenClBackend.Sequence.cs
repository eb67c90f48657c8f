namespace KernelLab.Backends.OpenCL;

// The LSTM and GRU cells, LayerNorm, causal self-attention and the softmax cross-entropy loss.
public sealed partial class OpenClBackend
{
    private const string Normalization = "normalization.cl";

    protected override void LstmCellForwardCore(DeviceView preact, DeviceView cPrev, DeviceView gates, DeviceView c, DeviceView h, int batch, int hidden) =>
        Kernel(Sequence, "lstm_cell_forward").View(preact).View(cPrev).View(gates).View(c).View(h).Int(batch).Int(hidden).Run((long)batch * hidden);

    protected override void LstmCellBackwardCore(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden) =>
        Kernel(Sequence, "lstm_cell_backward").View(gates).View(cPrev).View(c).View(dh).View(dc).View(dPreact).View(dcPrev)
            .Int(batch).Int(hidden).Run((long)batch * hidden);

    protected override void GruCellForwardCore(DeviceView gi, DeviceView gh, DeviceView hPrev, DeviceView gates, DeviceView h, int batch, int hidden) =>
        Kernel(Sequence, "gru_cell_forward").View(gi).View(gh).View(hPrev).View(gates).View(h).Int(batch).Int(hidden).Run((long)batch * hidden);

    protected override void GruCellBackwardCore(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden) =>
        Kernel(Sequence, "gru_cell_backward").View(gates).View(gh).View(hPrev).View(dh).View(dGi).View(dGh).View(dhPrev)
            .Int(batch).Int(hidden).Run((long)batch * hidden);

    protected override void LayerNormForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, double eps) =>
        Kernel(Normalization, "layernorm_forward").View(x).View(weight).View(bias).View(y).View(mean).View(rstd).Int(cols).Float(eps).RunGroups(rows);

    protected override void LayerNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols)
    {
        Kernel(Normalization, "layernorm_backward_input").View(dy).View(x).View(weight).View(mean).View(rstd).View(dx).Int(cols).RunGroups(rows);
        Kernel(Normalization, "layernorm_backward_params").View(dy).View(x).View(mean).View(rstd).View(dWeight).View(dBias).Int(rows).Int(cols).RunGroups(cols);
    }

    protected override void AttentionForwardCore(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s) =>
        Kernel(Sequence, "attention_forward").View(qkv).View(y).View(probabilities).LocalFloats(s.T)
            .Int(s.T).Int(s.Channels).Int(s.Heads).Float(1 / Math.Sqrt(s.HeadSize)).RunGroups((long)s.Batch * s.Heads * s.T);

    protected override void AttentionBackwardCore(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s)
    {
        // The gradient of the scores [B, heads, T, T] first, then every element of dQkv gathers from it, so that keys
        // and values that many queries saw are summed without atomics.
        var dScore = Scratch("attention dScore", s.ProbabilitiesLength);
        Kernel(Sequence, "attention_backward_scores").View(dy).View(qkv).View(probabilities).View(dScore).LocalFloats(s.T)
            .Int(s.T).Int(s.Channels).Int(s.Heads).Float(1 / Math.Sqrt(s.HeadSize)).RunGroups((long)s.Batch * s.Heads * s.T);
        Kernel(Sequence, "attention_backward_qkv").View(dy).View(qkv).View(probabilities).View(dScore).View(dQkv)
            .Int(s.Batch).Int(s.T).Int(s.Channels).Int(s.Heads).Run(s.QkvLength);
    }

    protected override void SoftmaxCrossEntropyCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView loss, DeviceView dLogits, int rows, int classes)
    {
        // Each row's loss into work space, then their mean in row order by one group: OpenCL 1.2 cannot make one group's
        // writes visible to another within a launch, so the mean is a second launch (not a last-group ticket, as on cuda).
        var rowLoss = Scratch("cross-entropy row losses", rows);
        Kernel(Normalization, "softmax_cross_entropy").View(logits).Indices(targets).View(rowLoss).View(dLogits).Int(rows).Int(classes).RunGroups(rows);
        Kernel(Normalization, "mean_reduce").View(rowLoss).View(loss).Int(rows).RunGroups(1);
    }
}
