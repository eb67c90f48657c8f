using ILGPU;
using ILGPU.Runtime;
using KernelLab.Backends.Ilgpu.Kernels;

namespace KernelLab.Backends.Ilgpu;

// torch.optim's updates (see ReferenceBackend.Optimizers.cs): float64 arithmetic on the device; the scalars that depend only
// on the step are computed here in float64.
public sealed partial class IlgpuBackend
{
    protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer)
    {
        var scalars = new SgdScalars
        {
            LearningRate = s.LearningRate, WeightDecay = s.WeightDecay, Momentum = s.Momentum, OneMinusDampening = 1 - s.Dampening,
            Nesterov = s.Nesterov ? 1 : 0, First = step == 1 ? 1 : 0,
        };
        if (param.Length > 0)
            Launch(nameof(OptimizerKernels.Sgd),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdScalars>(OptimizerKernels.Sgd),
                k => k(Extent(param.Length), View(param), View(grad), View(momentumBuffer), scalars));
    }

    protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq)
    {
        var scalars = new AdamScalars
        {
            WeightDecay = s.WeightDecay, DecayFactor = 1 - s.LearningRate * s.WeightDecay, Decoupled = s.Kind == OptimizerKind.AdamW ? 1 : 0,
            Beta1 = s.Beta1, OneMinusBeta1 = 1 - s.Beta1, Beta2 = s.Beta2, OneMinusBeta2 = 1 - s.Beta2,
            StepSize = s.LearningRate / (1 - Math.Pow(s.Beta1, step)), BiasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(s.Beta2, step)), Eps = s.Eps,
        };
        if (param.Length > 0)
            Launch(nameof(OptimizerKernels.Adam),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamScalars>(OptimizerKernels.Adam),
                k => k(Extent(param.Length), View(param), View(grad), View(expAvg), View(expAvgSq), scalars));
    }

    protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg)
    {
        var scalars = new RmsPropScalars
        {
            LearningRate = s.LearningRate, WeightDecay = s.WeightDecay, Alpha = s.Alpha, OneMinusAlpha = 1 - s.Alpha, Eps = s.Eps,
            Momentum = s.Momentum, Centered = s.Centered ? 1 : 0,
        };
        if (param.Length > 0)
            Launch(nameof(OptimizerKernels.RmsProp),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, RmsPropScalars>(OptimizerKernels.RmsProp),
                k => k(Extent(param.Length), View(param), View(grad), View(squareAvg), View(momentumBuffer), View(gradAvg), scalars));
    }

    protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum)
    {
        var scalars = new AdagradScalars
        {
            DecayedLearningRate = s.LearningRate / (1 + (step - 1) * s.LearningRateDecay), WeightDecay = s.WeightDecay, Eps = s.Eps,
        };
        if (param.Length > 0)
            Launch(nameof(OptimizerKernels.Adagrad),
                static a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdagradScalars>(OptimizerKernels.Adagrad),
                k => k(Extent(param.Length), View(param), View(grad), View(stateSum), scalars));
    }
}
