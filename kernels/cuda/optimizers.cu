// torch.optim's update rules, one thread per parameter, in the reference backend's order of operations. Scalars that
// depend only on the step (bias corrections, 1 - beta) are computed on the host in double and rounded once.
#include "common.cuh"

extern "C" __global__ void sgd_step(float* param, const float* grad, float* momentumBuffer, long long n, float lr,
                                    float weightDecay, int useMomentum, float momentum, float oneMinusDampening,
                                    int nesterov, int firstStep)
{
    GRID_STRIDE(i, n)
    {
        float g = grad[i] + weightDecay * param[i];
        if (useMomentum)
        {
            // PyTorch starts the buffer as a copy of the first gradient, undamped.
            float buf = firstStep ? g : momentum * momentumBuffer[i] + oneMinusDampening * g;
            momentumBuffer[i] = buf;
            g = nesterov ? g + momentum * buf : buf;
        }
        param[i] -= lr * g;
    }
}

// Adam adds the weight decay to the gradient; AdamW (decoupled) multiplies the weight by decayFactor = 1 - lr * weightDecay.
extern "C" __global__ void adam_step(float* param, const float* grad, float* expAvg, float* expAvgSq, long long n,
                                     int decoupled, float weightDecay, float decayFactor, float beta1, float oneMinusBeta1,
                                     float beta2, float oneMinusBeta2, float stepSize, float biasCorrection2Sqrt, float eps)
{
    GRID_STRIDE(i, n)
    {
        float p = param[i], g = grad[i];
        if (decoupled)
            p *= decayFactor;
        else
            g += weightDecay * p;
        float m = beta1 * expAvg[i] + oneMinusBeta1 * g;
        float v = beta2 * expAvgSq[i] + oneMinusBeta2 * g * g;
        expAvg[i] = m;
        expAvgSq[i] = v;
        param[i] = p - stepSize * m / (sqrtf(v) / biasCorrection2Sqrt + eps);
    }
}

extern "C" __global__ void rmsprop_step(float* param, const float* grad, float* squareAvg, float* momentumBuffer, float* gradAvg,
                                        long long n, float lr, float alpha, float oneMinusAlpha, float eps, float weightDecay,
                                        int useMomentum, float momentum, int centered)
{
    GRID_STRIDE(i, n)
    {
        float g = grad[i] + weightDecay * param[i];
        float sq = alpha * squareAvg[i] + oneMinusAlpha * g * g;
        squareAvg[i] = sq;
        float avg;
        if (centered)
        {
            float ga = alpha * gradAvg[i] + oneMinusAlpha * g;
            gradAvg[i] = ga;
            avg = sqrtf(sq - ga * ga) + eps;
        }
        else
        {
            avg = sqrtf(sq) + eps;
        }
        if (useMomentum)
        {
            float buf = momentum * momentumBuffer[i] + g / avg;
            momentumBuffer[i] = buf;
            param[i] -= lr * buf;
        }
        else
        {
            param[i] -= lr * g / avg;
        }
    }
}

// clr = lr / (1 + (step - 1) * lrDecay), from the host.
extern "C" __global__ void adagrad_step(float* param, const float* grad, float* stateSum, long long n, float clr, float eps, float weightDecay)
{
    GRID_STRIDE(i, n)
    {
        float g = grad[i] + weightDecay * param[i];
        float sum = stateSum[i] + g * g;
        stateSum[i] = sum;
        param[i] -= clr * g / (sqrtf(sum) + eps);
    }
}
