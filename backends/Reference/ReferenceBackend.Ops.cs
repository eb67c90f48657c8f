namespace KernelLab.Backends.Reference;

public sealed partial class ReferenceBackend
{
    protected override void FillCore(DeviceView y, float value) => throw new NotImplementedException();

    protected override void AddCore(DeviceView a, DeviceView b, DeviceView y, long n) => throw new NotImplementedException();

    protected override void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n) => throw new NotImplementedException();

    protected override void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n) => throw new NotImplementedException();

    protected override void GemmCore(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, float alpha, bool accumulate) => throw new NotImplementedException();

    protected override void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner) => throw new NotImplementedException();

    protected override void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate) => throw new NotImplementedException();

    protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView y, Conv2dShape s) => throw new NotImplementedException();

    protected override void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s) => throw new NotImplementedException();

    protected override void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s) => throw new NotImplementedException();

    protected override void MaxPool2dForwardCore(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s) => throw new NotImplementedException();

    protected override void MaxPool2dBackwardCore(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s) => throw new NotImplementedException();

    protected override void EmbeddingForwardCore(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim) => throw new NotImplementedException();

    protected override void EmbeddingBackwardCore(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim) => throw new NotImplementedException();

    protected override void LstmCellForwardCore(DeviceView preact, DeviceView cPrev, DeviceView gates, DeviceView c, DeviceView h, int batch, int hidden) => throw new NotImplementedException();

    protected override void LstmCellBackwardCore(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden) => throw new NotImplementedException();

    protected override void LayerNormForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, float eps) => throw new NotImplementedException();

    protected override void LayerNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols) => throw new NotImplementedException();

    protected override void AttentionForwardCore(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s) => throw new NotImplementedException();

    protected override void AttentionBackwardCore(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s) => throw new NotImplementedException();

    protected override void SoftmaxCrossEntropyForwardCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView probabilities, DeviceView loss, int rows, int classes) => throw new NotImplementedException();

    protected override void SoftmaxCrossEntropyBackwardCore(DeviceView probabilities, DeviceIndexBuffer targets, DeviceView dLogits, int rows, int classes) => throw new NotImplementedException();

    protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer) => throw new NotImplementedException();

    protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq) => throw new NotImplementedException();

    protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg) => throw new NotImplementedException();

    protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum) => throw new NotImplementedException();
}
