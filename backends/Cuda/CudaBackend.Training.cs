namespace KernelLab.Backends.Cuda;

// TEMPORARY: the training-block ops, to be written (issue 14).
public sealed unsafe partial class CudaBackend
{
    protected override void DropoutForwardCore(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m) => throw new NotImplementedException();
    protected override void DropoutBackwardCore(DeviceView dy, DeviceView mask, DeviceView dx, long n) => throw new NotImplementedException();
    protected override void GruCellForwardCore(DeviceView gi, DeviceView gh, DeviceView hPrev, DeviceView gates, DeviceView h, int batch, int hidden) => throw new NotImplementedException();
    protected override void GruCellBackwardCore(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden) => throw new NotImplementedException();
    protected override void BatchNormTrainingForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
        DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum) => throw new NotImplementedException();
    protected override void BatchNormEvalForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView runningMean, DeviceView runningVar, DeviceView y,
        int outer, int channels, int inner, double eps) => throw new NotImplementedException();
    protected override void BatchNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias,
        int outer, int channels, int inner) => throw new NotImplementedException();
    protected override void SumReduceCore(Reduction f, DeviceView x, long n, DeviceView result, double alpha, bool accumulate) => throw new NotImplementedException();
    protected override void AddL1GradientCore(DeviceView param, DeviceView grad, long n, double lambda) => throw new NotImplementedException();
    protected override void ClipByNormCore(DeviceView x, long n, DeviceView sumSquares, double maxNorm) => throw new NotImplementedException();
}
