namespace KernelLab.Backends.OpenCL;

// The training blocks: dropout, batch norm, and the reductions of the L1 penalty and gradient clipping.
public sealed partial class OpenClBackend
{
    // The mask is drawn on the device from DropoutMask's integer recipe; only the scale is a float, rounded once here.
    protected override void DropoutForwardCore(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m) =>
        Kernel(Elementwise, "dropout_forward").View(x).View(mask).View(y).Int(n)
            .UInt(m.Threshold).Float(m.Scale).UInt(m.Site).UInt(m.Step0).UInt(m.Step1).UInt(m.Key0).UInt(m.Key1)
            .Run((n + 3) / 4); // one work-item per Philox block of four words

    protected override void DropoutBackwardCore(DeviceView dy, DeviceView mask, DeviceView dx, long n) =>
        Kernel(Elementwise, "multiply").View(dy).View(mask).View(dx).Int(n).Run(n);

    protected override void BatchNormTrainingForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
        DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum) =>
        Kernel(Normalization, "batchnorm_training_forward").View(x).View(weight).View(bias).View(y).View(mean).View(rstd).View(runningMean).View(runningVar)
            .Int(channels).Int(inner).Int((long)outer * inner).Float(eps).Float(momentum).RunGroups(channels);

    protected override void BatchNormEvalForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView runningMean, DeviceView runningVar, DeviceView y,
        int outer, int channels, int inner, double eps)
    {
        long n = (long)outer * channels * inner;
        Kernel(Normalization, "batchnorm_eval_forward").View(x).View(weight).View(bias).View(runningMean).View(runningVar).View(y)
            .Int(channels).Int(inner).Int(n).Float(eps).Run(n);
    }

    protected override void BatchNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias,
        int outer, int channels, int inner) =>
        Kernel(Normalization, "batchnorm_backward").View(dy).View(x).View(weight).View(mean).View(rstd).View(dx).View(dWeight).View(dBias)
            .Int(channels).Int(inner).Int((long)outer * inner).RunGroups(channels);

    protected override void SumReduceCore(Reduction f, DeviceView x, long n, DeviceView result, double alpha, bool accumulate) =>
        Kernel(Normalization, "sum_reduce").Int((int)f).View(x).Int(n).View(result).Float(alpha).Bool(accumulate).RunGroups(1);

    protected override void AddL1GradientCore(DeviceView param, DeviceView grad, long n, double lambda) =>
        Kernel(Elementwise, "add_l1_gradient").View(param).View(grad).Int(n).Float(lambda).Run(n);

    protected override void ClipByNormCore(DeviceView x, long n, DeviceView sumSquares, double maxNorm) =>
        Kernel(Elementwise, "clip_by_norm").View(x).View(sumSquares).Int(n).Float(maxNorm).Run(n);
}
