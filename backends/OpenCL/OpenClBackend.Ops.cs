namespace KernelLab.Backends.OpenCL;

// Element-wise ops, GEMM, bias, convolution, pooling and embedding.
public sealed partial class OpenClBackend
{
    private const string Elementwise = "elementwise.cl", GemmSource = "gemm.cl", Convolution = "convolution.cl", Sequence = "sequence.cl";

    /// <summary>The block of c of one GEMM work-group (TS in gemm.cl) and the work-group's shape (GROUP_X x GROUP_Y: each work-item computes 8 rows of 8 columns).</summary>
    private const int GemmBlock = 64, GemmGroupX = 8, GemmGroupY = 8;

    protected override void FillCore(DeviceView y, double value) =>
        Kernel(Elementwise, "fill").View(y).Int(y.Length).Float(value).Run(y.Length);

    protected override void AddCore(DeviceView a, DeviceView b, DeviceView y, long n) =>
        Kernel(Elementwise, "add").View(a).View(b).View(y).Int(n).Run(n);

    protected override void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n) =>
        Kernel(Elementwise, "activation_forward").Int((int)f).View(x).View(y).Int(n).Run(n);

    protected override void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n) =>
        Kernel(Elementwise, "activation_backward").Int((int)f).View(x).View(y).View(dy).View(dx).Int(n).Run(n);

    protected override void GemmCore(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, double alpha, bool accumulate)
    {
        string name = $"gemm_{(transposeA ? 't' : 'n')}{(transposeB ? 't' : 'n')}";
        Kernel(GemmSource, name).Int(m).Int(n).Int(k).View(a).View(b).View(c).Float(alpha).Bool(accumulate)
            .Run2D((n + GemmBlock - 1) / GemmBlock, (m + GemmBlock - 1) / GemmBlock, GemmGroupX, GemmGroupY);
    }

    protected override void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner)
    {
        long n = (long)outer * channels * inner;
        Kernel(Elementwise, "add_bias").View(y).View(bias).Int(channels).Int(inner).Int(n).Run(n);
    }

    protected override void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate)
    {
        // Rows of a linear layer: one work-item per channel reads along the rows. Planes of a convolution: one
        // work-group per channel reduces its outer * inner elements.
        if (inner == 1)
            Kernel(Elementwise, "bias_backward_columns").View(dy).View(dBias).Int(outer).Int(channels).Bool(accumulate).Run(channels);
        else
            Kernel(Elementwise, "bias_backward_planes").View(dy).View(dBias).Int(outer).Int(channels).Int(inner).Bool(accumulate).RunGroups(channels);
    }

    /// <summary>Output columns per work-item of conv2d_rows (COLUMNS in convolution.cl).</summary>
    private const int ConvColumns = 8;

    protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView y, Conv2dShape s) =>
        ConvRows(x, w, y, s, s.InChannels, s.OutChannels, transposed: false);

    // The same sum as the forward, from dy to dx through the flipped and transposed weight.
    protected override void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s) =>
        ConvRows(dy, w, dx, s, s.OutChannels, s.InChannels, transposed: true);

    private void ConvRows(DeviceView input, DeviceView w, DeviceView output, Conv2dShape s, int inChannels, int outChannels, bool transposed) =>
        Kernel(Convolution, "conv2d_rows").View(input).View(w).View(output)
            .Int(s.Batch).Int(inChannels).Int(outChannels).Int(s.Height).Int(s.Width).Int(s.KernelSize).Bool(transposed)
            .Run((long)s.Batch * outChannels * s.Height * ((s.Width + ConvColumns - 1) / ConvColumns));

    protected override void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s) =>
        Kernel(Convolution, "conv2d_backward_weight").View(x).View(dy).View(dw)
            .Int(s.Batch).Int(s.InChannels).Int(s.OutChannels).Int(s.Height).Int(s.Width).Int(s.KernelSize).RunGroups(s.WeightLength);

    protected override void MaxPool2dForwardCore(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s) =>
        Kernel(Convolution, "maxpool2d_forward").View(x).View(y).Indices(argMax).Int(s.Planes).Int(s.Height).Int(s.Width).Run(s.OutputLength);

    protected override void MaxPool2dBackwardCore(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s) =>
        Kernel(Convolution, "maxpool2d_backward").View(dy).Indices(argMax).View(dx).Int(s.Planes).Int(s.Height).Int(s.Width).Run(s.InputLength);

    protected override void EmbeddingForwardCore(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim) =>
        Kernel(Sequence, "embedding_forward").Indices(ids).View(table).View(y).Int(count).Int(dim).Run((long)count * dim);

    protected override void EmbeddingBackwardCore(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim) =>
        Kernel(Sequence, "embedding_backward").Indices(ids).View(dy).View(dTable).Int(count).Int(vocab).Int(dim).Run((long)vocab * dim);
}
