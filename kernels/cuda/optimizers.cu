// torch.optim's update rules, one thread per parameter, in the reference backend's order of operations. Parameters
// and state are stored in float32; the update is computed in double (it is memory-bound, so this costs nothing), as
// the contract asks, and the host passes its scalars (bias corrections, 1 - beta) in double.
#include "common.cuh"

extern "C" __global__ void sgd_step(float* param, const float* grad, float* momentumBuffer, long long n, double lr,
                                    double weightDecay, int useMomentum, double momentum, double oneMinusDampening,
                                    int nesterov, int firstStep)
{
    GRID_STRIDE(i, n)
    {
        double g = grad[i] + weightDecay * param[i];
        if (useMomentum)
        {
            // PyTorch starts the buffer as a copy of the first gradient, undamped.
            double buf = firstStep ? g : momentum * momentumBuffer[i] + oneMinusDampening * g;
            momentumBuffer[i] = (float)buf;
            g = nesterov ? g + momentum * buf : buf;
        }
        param[i] = (float)(param[i] - lr * g);
    }
}

// Adam adds the weight decay to the gradient; AdamW (decoupled) multiplies the weight by decayFactor = 1 - lr * weightDecay.
extern "C" __global__ void adam_step(float* param, const float* grad, float* expAvg, float* expAvgSq, long long n,
                                     int decoupled, double weightDecay, double decayFactor, double beta1, double oneMinusBeta1,
                                     double beta2, double oneMinusBeta2, double stepSize, double biasCorrection2Sqrt, double eps)
{
    GRID_STRIDE(i, n)
    {
        double p = param[i], g = grad[i];
        if (decoupled)
            p *= decayFactor;
        else
            g += weightDecay * p;
        double m = beta1 * expAvg[i] + oneMinusBeta1 * g;
        double v = beta2 * expAvgSq[i] + oneMinusBeta2 * g * g;
        expAvg[i] = (float)m;
        expAvgSq[i] = (float)v;
        param[i] = (float)(p - stepSize * m / (sqrt(v) / biasCorrection2Sqrt + eps));
    }
}

extern "C" __global__ void rmsprop_step(float* param, const float* grad, float* squareAvg, float* momentumBuffer, float* gradAvg,
                                        long long n, double lr, double alpha, double oneMinusAlpha, double eps, double weightDecay,
                                        int useMomentum, double momentum, int centered)
{
    GRID_STRIDE(i, n)
    {
        double g = grad[i] + weightDecay * param[i];
        double sq = alpha * squareAvg[i] + oneMinusAlpha * g * g;
        squareAvg[i] = (float)sq;
        double avg;
        if (centered)
        {
            double ga = alpha * gradAvg[i] + oneMinusAlpha * g;
            gradAvg[i] = (float)ga;
            avg = sqrt(sq - ga * ga) + eps;
        }
        else
        {
            avg = sqrt(sq) + eps;
        }
        if (useMomentum)
        {
            double buf = momentum * momentumBuffer[i] + g / avg;
            momentumBuffer[i] = (float)buf;
            param[i] = (float)(param[i] - lr * buf);
        }
        else
        {
            param[i] = (float)(param[i] - lr * g / avg);
        }
    }
}

// clr = lr / (1 + (step - 1) * lrDecay), from the host.
extern "C" __global__ void adagrad_step(float* param, const float* grad, float* stateSum, long long n, double clr, double eps, double weightDecay)
{
    GRID_STRIDE(i, n)
    {
        double g = grad[i] + weightDecay * param[i];
        double sum = stateSum[i] + g * g;
        stateSum[i] = (float)sum;
        param[i] = (float)(param[i] - clr * g / (sqrt(sum) + eps));
    }
}
