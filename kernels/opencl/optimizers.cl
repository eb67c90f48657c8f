// torch.optim updates, one work-item per parameter element, in the reference's order of operations. Scalars that
// depend only on the step (bias corrections, the decayed learning rate) are computed on the host in float64.

// g + weight_decay * p: every optimizer's weight decay but AdamW's.
#define WITH_DECAY(g, p) ((g) + wd * (p))

__kernel void sgd_step(__global float* param, int po, __global const float* grad, int go, __global float* buf, int bo, int n,
                       float lr, float wd, float momentum, float oneMinusDampening, int nesterov, int first)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float p = param[po + i];
    float g = WITH_DECAY(grad[go + i], p);
    if (momentum != 0.0f)
    {
        // The buffer starts as a copy of the first gradient, undamped.
        float b = first ? g : momentum * buf[bo + i] + oneMinusDampening * g;
        buf[bo + i] = b;
        g = nesterov ? g + momentum * b : b;
    }
    param[po + i] = p - lr * g;
}

// Adam (decay added to the gradient) and AdamW (decoupled: p *= 1 - lr * wd, given as decayFactor).
__kernel void adam_step(__global float* param, int po, __global const float* grad, int go, __global float* expAvg, int mo,
                        __global float* expAvgSq, int vo, int n, float wd, float decayFactor, int decoupled,
                        float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2,
                        float stepSize, float biasCorrection2Sqrt, float eps)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float p = param[po + i];
    float g = grad[go + i];
    if (decoupled)
        p *= decayFactor;
    else
        g = WITH_DECAY(g, p);
    float m = beta1 * expAvg[mo + i] + oneMinusBeta1 * g;
    float v = beta2 * expAvgSq[vo + i] + oneMinusBeta2 * g * g;
    expAvg[mo + i] = m;
    expAvgSq[vo + i] = v;
    param[po + i] = p - stepSize * m / (sqrt(v) / biasCorrection2Sqrt + eps);
}

__kernel void rmsprop_step(__global float* param, int po, __global const float* grad, int go, __global float* squareAvg, int so,
                           __global float* buf, int bo, __global float* gradAvg, int gao, int n,
                           float lr, float wd, float alpha, float oneMinusAlpha, float eps, float momentum, int centered)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float p = param[po + i];
    float g = WITH_DECAY(grad[go + i], p);
    float sq = alpha * squareAvg[so + i] + oneMinusAlpha * g * g;
    squareAvg[so + i] = sq;
    float avg;
    if (centered)
    {
        float ga = alpha * gradAvg[gao + i] + oneMinusAlpha * g;
        gradAvg[gao + i] = ga;
        avg = sqrt(sq - ga * ga) + eps;
    }
    else
    {
        avg = sqrt(sq) + eps;
    }
    if (momentum > 0.0f)
    {
        float b = momentum * buf[bo + i] + g / avg;
        buf[bo + i] = b;
        param[po + i] = p - lr * b;
    }
    else
    {
        param[po + i] = p - lr * g / avg;
    }
}

// clr = lr / (1 + (step - 1) * lr_decay), from the host.
__kernel void adagrad_step(__global float* param, int po, __global const float* grad, int go, __global float* stateSum, int so, int n,
                           float clr, float wd, float eps)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float p = param[po + i];
    float g = WITH_DECAY(grad[go + i], p);
    float s = stateSum[so + i] + g * g;
    stateSum[so + i] = s;
    param[po + i] = p - clr * g / (sqrt(s) + eps);
}
