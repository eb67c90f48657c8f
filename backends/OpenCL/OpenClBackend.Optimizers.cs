namespace KernelLab.Backends.OpenCL;

// torch.optim's updates (see ReferenceBackend.Optimizers.cs); scalars that depend only on the step are computed here in float64.
public sealed partial class OpenClBackend
{
    private const string Optimizers = "optimizers.cl";

    protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer) =>
        Kernel(Optimizers, "sgd_step").View(param).View(grad).View(momentumBuffer).Int(param.Length)
            .Float(s.LearningRate).Float(s.WeightDecay).Float(s.Momentum).Float(1 - s.Dampening).Bool(s.Nesterov).Bool(step == 1)
            .Run(param.Length);

    protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq)
    {
        double biasCorrection1 = 1 - Math.Pow(s.Beta1, step);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(s.Beta2, step));
        Kernel(Optimizers, "adam_step").View(param).View(grad).View(expAvg).View(expAvgSq).Int(param.Length)
            .Float(s.WeightDecay).Float(1 - s.LearningRate * s.WeightDecay).Bool(s.Kind == OptimizerKind.AdamW)
            .Float(s.Beta1).Float(1 - s.Beta1).Float(s.Beta2).Float(1 - s.Beta2)
            .Float(s.LearningRate / biasCorrection1).Float(biasCorrection2Sqrt).Float(s.Eps)
            .Run(param.Length);
    }

    protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg) =>
        Kernel(Optimizers, "rmsprop_step").View(param).View(grad).View(squareAvg).View(momentumBuffer).View(gradAvg).Int(param.Length)
            .Float(s.LearningRate).Float(s.WeightDecay).Float(s.Alpha).Float(1 - s.Alpha).Float(s.Eps).Float(s.Momentum).Bool(s.Centered)
            .Run(param.Length);

    protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum) =>
        Kernel(Optimizers, "adagrad_step").View(param).View(grad).View(stateSum).Int(param.Length)
            .Float(s.LearningRate / (1 + (step - 1) * s.LearningRateDecay)).Float(s.WeightDecay).Float(s.Eps)
            .Run(param.Length);
}
