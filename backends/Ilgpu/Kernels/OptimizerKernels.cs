using ILGPU;
using ILGPU.Algorithms;

namespace KernelLab.Backends.Ilgpu.Kernels;

/// <summary>
/// torch.optim's updates, one thread per parameter element, in the reference's order of operations. The state is float32
/// like every buffer, but the update is computed in float64 (the contract's rule: in float32 a parameter whose update
/// cancels loses the digits the comparison asks for). Scalars that depend only on the step (bias corrections, the decayed
/// learning rate) are computed on the host in float64 and arrive in one struct per optimizer.
/// </summary>
internal static class OptimizerKernels
{
    public static void Sgd(Index1D i, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> buffer, SgdScalars s)
    {
        double p = param[i];
        double g = grad[i] + s.WeightDecay * p;
        if (s.Momentum != 0)
        {
            // The buffer starts as a copy of the first gradient, undamped.
            double b = s.First != 0 ? g : s.Momentum * buffer[i] + s.OneMinusDampening * g;
            buffer[i] = (float)b;
            g = s.Nesterov != 0 ? g + s.Momentum * b : b;
        }
        param[i] = (float)(p - s.LearningRate * g);
    }

    /// <summary>Adam (decay added to the gradient) and AdamW (decoupled: p *= 1 - lr wd, given as DecayFactor).</summary>
    public static void Adam(Index1D i, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> expAvg, ArrayView<float> expAvgSq, AdamScalars s)
    {
        double p = param[i];
        double g = grad[i];
        if (s.Decoupled != 0)
            p *= s.DecayFactor;
        else
            g += s.WeightDecay * p;
        double m = s.Beta1 * expAvg[i] + s.OneMinusBeta1 * g;
        double v = s.Beta2 * expAvgSq[i] + s.OneMinusBeta2 * g * g;
        expAvg[i] = (float)m;
        expAvgSq[i] = (float)v;
        param[i] = (float)(p - s.StepSize * m / (XMath.Sqrt(v) / s.BiasCorrection2Sqrt + s.Eps));
    }

    public static void RmsProp(Index1D i, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> squareAvg, ArrayView<float> buffer,
        ArrayView<float> gradAvg, RmsPropScalars s)
    {
        double p = param[i];
        double g = grad[i] + s.WeightDecay * p;
        double sq = s.Alpha * squareAvg[i] + s.OneMinusAlpha * g * g;
        squareAvg[i] = (float)sq;
        double avg;
        if (s.Centered != 0)
        {
            // Divide by an estimate of the gradient's standard deviation rather than its root mean square.
            double ga = s.Alpha * gradAvg[i] + s.OneMinusAlpha * g;
            gradAvg[i] = (float)ga;
            avg = XMath.Sqrt(sq - ga * ga) + s.Eps;
        }
        else
        {
            avg = XMath.Sqrt(sq) + s.Eps;
        }
        if (s.Momentum > 0)
        {
            double b = s.Momentum * buffer[i] + g / avg;
            buffer[i] = (float)b;
            param[i] = (float)(p - s.LearningRate * b);
        }
        else
        {
            param[i] = (float)(p - s.LearningRate * g / avg);
        }
    }

    /// <summary>DecayedLearningRate = lr / (1 + (step - 1) lr_decay), from the host.</summary>
    public static void Adagrad(Index1D i, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> stateSum, AdagradScalars s)
    {
        double p = param[i];
        double g = grad[i] + s.WeightDecay * p;
        double sum = stateSum[i] + g * g;
        stateSum[i] = (float)sum;
        param[i] = (float)(p - s.DecayedLearningRate * g / (XMath.Sqrt(sum) + s.Eps));
    }
}

internal struct SgdScalars
{
    public double LearningRate, WeightDecay, Momentum, OneMinusDampening;
    public int Nesterov, First;
}

internal struct AdamScalars
{
    public double WeightDecay, DecayFactor, Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, StepSize, BiasCorrection2Sqrt, Eps;
    public int Decoupled;
}

internal struct RmsPropScalars
{
    public double LearningRate, WeightDecay, Alpha, OneMinusAlpha, Eps, Momentum;
    public int Centered;
}

internal struct AdagradScalars
{
    public double DecayedLearningRate, WeightDecay, Eps;
}
