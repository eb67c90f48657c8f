namespace KernelLab.Backends.OpenCL;

// torch.optim's updates (see ReferenceBackend.Optimizers.cs and optimizers.cl: float64 arithmetic where the device has it);
// scalars that depend only on the step are computed here in float64.
public sealed partial class OpenClBackend
{
    private const string Optimizers = "optimizers.cl";

    protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer) =>
        Kernel(Optimizers, "sgd_step").View(param).View(grad).View(momentumBuffer).Int(param.Length)
            .Scalar(s.LearningRate).Scalar(s.WeightDecay).Scalar(s.Momentum).Scalar(1 - s.Dampening).Bool(s.Nesterov).Bool(step == 1)
            .Run(param.Length);

    protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq)
    {
        double biasCorrection1 = 1 - Math.Pow(s.Beta1, step);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(s.Beta2, step));
        Kernel(Optimizers, "adam_step").View(param).View(grad).View(expAvg).View(expAvgSq).Int(param.Length)
            .Scalar(s.WeightDecay).Scalar(1 - s.LearningRate * s.WeightDecay).Bool(s.Kind == OptimizerKind.AdamW)
            .Scalar(s.Beta1).Scalar(1 - s.Beta1).Scalar(s.Beta2).Scalar(1 - s.Beta2)
            .Scalar(s.LearningRate / biasCorrection1).Scalar(biasCorrection2Sqrt).Scalar(s.Eps)
            .Run(param.Length);
    }

    protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg) =>
        Kernel(Optimizers, "rmsprop_step").View(param).View(grad).View(squareAvg).View(momentumBuffer).View(gradAvg).Int(param.Length)
            .Scalar(s.LearningRate).Scalar(s.WeightDecay).Scalar(s.Alpha).Scalar(1 - s.Alpha).Scalar(s.Eps).Scalar(s.Momentum).Bool(s.Centered)
            .Run(param.Length);

    protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum) =>
        Kernel(Optimizers, "adagrad_step").View(param).View(grad).View(stateSum).Int(param.Length)
            .Scalar(s.LearningRate / (1 + (step - 1) * s.LearningRateDecay)).Scalar(s.WeightDecay).Scalar(s.Eps)
            .Run(param.Length);
}
