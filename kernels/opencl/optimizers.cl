// torch.optim updates, one work-item per parameter element, in the reference's order of operations. The state is
// float32, like every buffer, but the update itself is computed in float64 where the device has it: a momentum
// buffer or a moment estimate is a long sum of nearly cancelling gradients, and float32 arithmetic on it drifts
// from PyTorch's trajectory by more than the comparison allows. Host scalars arrive as two floats (hi + lo, the
// float64 value to about 48 bits), since a device without float64 cannot take double arguments; scalars that
// depend only on the step (bias corrections, the decayed learning rate) are computed on the host in float64.

#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
#else
typedef float real;
#endif

// A host scalar: declared as SCALAR(x) among the parameters, read as S(x).
#define SCALAR(x) float x##_hi, float x##_lo
#define S(x) ((real)x##_hi + (real)x##_lo)

__kernel void sgd_step(__global float* param, int po, __global const float* grad, int go, __global float* buf, int bo, int n,
                       SCALAR(lr), SCALAR(wd), SCALAR(momentum), SCALAR(oneMinusDampening), int nesterov, int first)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    real p = param[po + i];
    real g = grad[go + i] + S(wd) * p;
    if (S(momentum) != 0)
    {
        // The buffer starts as a copy of the first gradient, undamped.
        real b = first ? g : S(momentum) * buf[bo + i] + S(oneMinusDampening) * g;
        buf[bo + i] = (float)b;
        g = nesterov ? g + S(momentum) * b : b;
    }
    param[po + i] = (float)(p - S(lr) * g);
}

// Adam (decay added to the gradient) and AdamW (decoupled: p *= 1 - lr * wd, given as decayFactor).
__kernel void adam_step(__global float* param, int po, __global const float* grad, int go, __global float* expAvg, int mo,
                        __global float* expAvgSq, int vo, int n, SCALAR(wd), SCALAR(decayFactor), int decoupled,
                        SCALAR(beta1), SCALAR(oneMinusBeta1), SCALAR(beta2), SCALAR(oneMinusBeta2),
                        SCALAR(stepSize), SCALAR(biasCorrection2Sqrt), SCALAR(eps))
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    real p = param[po + i];
    real g = grad[go + i];
    if (decoupled)
        p *= S(decayFactor);
    else
        g += S(wd) * p;
    real m = S(beta1) * expAvg[mo + i] + S(oneMinusBeta1) * g;
    real v = S(beta2) * expAvgSq[vo + i] + S(oneMinusBeta2) * g * g;
    expAvg[mo + i] = (float)m;
    expAvgSq[vo + i] = (float)v;
    param[po + i] = (float)(p - S(stepSize) * m / (sqrt(v) / S(biasCorrection2Sqrt) + S(eps)));
}

__kernel void rmsprop_step(__global float* param, int po, __global const float* grad, int go, __global float* squareAvg, int so,
                           __global float* buf, int bo, __global float* gradAvg, int gao, int n,
                           SCALAR(lr), SCALAR(wd), SCALAR(alpha), SCALAR(oneMinusAlpha), SCALAR(eps), SCALAR(momentum), int centered)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    real p = param[po + i];
    real g = grad[go + i] + S(wd) * p;
    real sq = S(alpha) * squareAvg[so + i] + S(oneMinusAlpha) * g * g;
    squareAvg[so + i] = (float)sq;
    real avg;
    if (centered)
    {
        // Divide by an estimate of the gradient's standard deviation rather than its root mean square.
        real ga = S(alpha) * gradAvg[gao + i] + S(oneMinusAlpha) * g;
        gradAvg[gao + i] = (float)ga;
        avg = sqrt(sq - ga * ga) + S(eps);
    }
    else
    {
        avg = sqrt(sq) + S(eps);
    }
    if (S(momentum) > 0)
    {
        real b = S(momentum) * buf[bo + i] + g / avg;
        buf[bo + i] = (float)b;
        param[po + i] = (float)(p - S(lr) * b);
    }
    else
    {
        param[po + i] = (float)(p - S(lr) * g / avg);
    }
}

// clr = lr / (1 + (step - 1) * lr_decay), from the host.
__kernel void adagrad_step(__global float* param, int po, __global const float* grad, int go, __global float* stateSum, int so, int n,
                           SCALAR(clr), SCALAR(wd), SCALAR(eps))
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    real p = param[po + i];
    real g = grad[go + i] + S(wd) * p;
    real s = stateSum[so + i] + g * g;
    stateSum[so + i] = (float)s;
    param[po + i] = (float)(p - S(clr) * g / (sqrt(s) + S(eps)));
}
