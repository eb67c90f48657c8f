namespace KernelLab.Backends.Reference;

// torch.optim's update rules (the single-tensor, non-foreach code paths; no amsgrad, no maximize), written in the
// same order of operations as PyTorch so that a float64 trajectory can be compared step for step.
public partial class ReferenceBackend
{
    protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer)
    {
        Span<double> p = Span(param), gr = Span(grad), buf = Span(momentumBuffer);
        for (int i = 0; i < p.Length; i++)
        {
            double g = WithWeightDecay(s, gr[i], p[i]);
            if (s.Momentum != 0)
            {
                // PyTorch starts the buffer as a copy of the first gradient, undamped.
                buf[i] = step == 1 ? g : s.Momentum * buf[i] + (1 - s.Dampening) * g;
                g = s.Nesterov ? g + s.Momentum * buf[i] : buf[i];
            }
            p[i] -= s.LearningRate * g;
        }
    }

    protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq)
    {
        Span<double> p = Span(param), gr = Span(grad), m = Span(expAvg), v = Span(expAvgSq);
        // AdamW decays the weight itself; Adam adds the decay to the gradient as an L2 term.
        bool decoupled = s.Kind == OptimizerKind.AdamW;
        double biasCorrection1 = 1 - Math.Pow(s.Beta1, step);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(s.Beta2, step));
        double stepSize = s.LearningRate / biasCorrection1;
        for (int i = 0; i < p.Length; i++)
        {
            double g = gr[i];
            if (decoupled)
                p[i] *= 1 - s.LearningRate * s.WeightDecay;
            else
                g = WithWeightDecay(s, g, p[i]);
            m[i] = s.Beta1 * m[i] + (1 - s.Beta1) * g;
            v[i] = s.Beta2 * v[i] + (1 - s.Beta2) * g * g;
            p[i] -= stepSize * m[i] / (Math.Sqrt(v[i]) / biasCorrection2Sqrt + s.Eps);
        }
    }

    protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg)
    {
        Span<double> p = Span(param), gr = Span(grad), sq = Span(squareAvg), buf = Span(momentumBuffer), ga = Span(gradAvg);
        for (int i = 0; i < p.Length; i++)
        {
            double g = WithWeightDecay(s, gr[i], p[i]);
            sq[i] = s.Alpha * sq[i] + (1 - s.Alpha) * g * g;
            double avg;
            if (s.Centered)
            {
                // Centered: divide by an estimate of the gradient's standard deviation rather than its root mean square.
                ga[i] = s.Alpha * ga[i] + (1 - s.Alpha) * g;
                avg = Math.Sqrt(sq[i] - ga[i] * ga[i]) + s.Eps;
            }
            else
            {
                avg = Math.Sqrt(sq[i]) + s.Eps;
            }
            if (s.Momentum > 0)
            {
                buf[i] = s.Momentum * buf[i] + g / avg;
                p[i] -= s.LearningRate * buf[i];
            }
            else
            {
                p[i] -= s.LearningRate * g / avg;
            }
        }
    }

    /// <summary>
    /// The state starts at <see cref="OptimizerSettings.InitialAccumulatorValue"/>, not at 0: the caller fills it
    /// with that value before step 1, so that this op, like every other, only updates its state.
    /// </summary>
    protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum)
    {
        Span<double> p = Span(param), gr = Span(grad), sum = Span(stateSum);
        double clr = s.LearningRate / (1 + (step - 1) * s.LearningRateDecay);
        for (int i = 0; i < p.Length; i++)
        {
            double g = WithWeightDecay(s, gr[i], p[i]);
            sum[i] += g * g;
            p[i] -= clr * g / (Math.Sqrt(sum[i]) + s.Eps);
        }
    }

    /// <summary>torch.optim's weight_decay for every optimizer but AdamW: an L2 term added to the gradient.</summary>
    private static double WithWeightDecay(OptimizerSettings s, double grad, double param) => grad + s.WeightDecay * param;
}
