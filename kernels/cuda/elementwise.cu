// Element-wise ops: fill, add, multiply, activations and their derivatives, bias add, the softmax cross-entropy gradient,
// dropout, batch norm in eval mode, the L1 subgradient and the gradient clip.
#include "common.cuh"

// The values of KernelLab.Backends.Activation.
#define RELU 0
#define GELU_TANH 1
#define SIGMOID 2
#define TANH 3

#define SQRT_TWO_OVER_PI 0.7978845608028654f
#define GELU_CUBIC 0.044715f

// u = sqrt(2/pi) (x + 0.044715 x^3): GELU's tanh approximation is 0.5 x (1 + tanh(u)).
__device__ __forceinline__ float gelu_inner(float x) { return SQRT_TWO_OVER_PI * (x + GELU_CUBIC * x * x * x); }

__device__ float activate(int f, float x)
{
    switch (f)
    {
    case RELU: return x <= 0.0f ? 0.0f : x; // PyTorch's threshold: a NaN passes through
    case GELU_TANH: return 0.5f * x * (1.0f + tanhf(gelu_inner(x)));
    case SIGMOID: return sigmoid(x);
    default: return tanhf(x);
    }
}

// f'(x) given the input x and the output y = f(x), as the reference backend takes it.
__device__ float derivative(int f, float x, float y)
{
    switch (f)
    {
    case RELU: return x <= 0.0f ? 0.0f : 1.0f;
    case GELU_TANH:
    {
        float t = tanhf(gelu_inner(x));
        float du = SQRT_TWO_OVER_PI * (1.0f + 3.0f * GELU_CUBIC * x * x);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
    }
    case SIGMOID: return y * (1.0f - y);
    default: return 1.0f - y * y;
    }
}

extern "C" __global__ void fill(float* y, float value, long long n)
{
    GRID_STRIDE(i, n)
        y[i] = value;
}

// y may be a or b.
extern "C" __global__ void add(const float* a, const float* b, float* y, long long n)
{
    GRID_STRIDE(i, n)
        y[i] = a[i] + b[i];
}

// y = a * b (dropout's backward: dx = dy * mask). y may be a or b.
extern "C" __global__ void multiply(const float* a, const float* b, float* y, long long n)
{
    GRID_STRIDE(i, n)
        y[i] = a[i] * b[i];
}

// y may be x.
extern "C" __global__ void activation_forward(int f, const float* x, float* y, long long n)
{
    GRID_STRIDE(i, n)
        y[i] = activate(f, x[i]);
}

// dx may be dy.
extern "C" __global__ void activation_backward(int f, const float* x, const float* y, const float* dy, float* dx, long long n)
{
    GRID_STRIDE(i, n)
        dx[i] = derivative(f, x[i], y[i]) * dy[i];
}

// y [outer, channels, inner] += bias[channel]; n = outer * channels * inner.
extern "C" __global__ void add_bias(float* y, const float* bias, int channels, int inner, long long n)
{
    GRID_STRIDE(i, n)
        y[i] += bias[(i / inner) % channels];
}

// Philox4x32-10, as backends/Contract/Philox.cs: counter c becomes the four output words under key (k0, k1). The rounds'
// products are 32 x 32 -> 64 bits, as Philox.cs takes them (one wide multiply on the GPU).
#define PHILOX_M0 0xD2511F53u // round multipliers
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u // key schedule increments
#define PHILOX_W1 0xBB67AE85u

__device__ void philox(unsigned int c[4], unsigned int k0, unsigned int k1)
{
    for (int round = 0; round < 10; round++)
    {
        if (round > 0)
        {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        unsigned long long p0 = (unsigned long long)PHILOX_M0 * c[0], p1 = (unsigned long long)PHILOX_M1 * c[2];
        c[0] = (unsigned int)(p1 >> 32) ^ c[1] ^ k0;
        c[1] = (unsigned int)p1;
        c[2] = (unsigned int)(p0 >> 32) ^ c[3] ^ k1;
        c[3] = (unsigned int)p0;
    }
}

// DropoutMask's recipe: element i is kept (mask = scale, else 0) when word i % 4 of counter (i / 4, site, step0, step1)
// under key (key0, key1) is at least threshold, an integer compare, so the mask is the reference's bit for bit; y = x * mask.
// One thread per counter, four elements; y may be x.
extern "C" __global__ void dropout_forward(const float* x, float* mask, float* y, long long n, unsigned int threshold, float scale,
                                           unsigned int site, unsigned int step0, unsigned int step1, unsigned int key0, unsigned int key1)
{
    GRID_STRIDE(counter, (n + 3) / 4)
    {
        unsigned int words[4] = {(unsigned int)counter, site, step0, step1};
        philox(words, key0, key1);
        for (int k = 0; k < 4; k++)
        {
            long long i = counter * 4 + k;
            if (i < n)
            {
                float m = words[k] >= threshold ? scale : 0.0f;
                mask[i] = m;
                y[i] = x[i] * m;
            }
        }
    }
}

// nn.BatchNorm in eval mode: y = (x - runningMean) / sqrt(runningVar + eps) * weight + bias per channel of x [outer, channels, inner].
extern "C" __global__ void batchnorm_eval_forward(const float* x, const float* weight, const float* bias, const float* runningMean,
                                                  const float* runningVar, float* y, int channels, int inner, float eps, long long n)
{
    GRID_STRIDE(i, n)
    {
        int ch = (int)(i / inner % channels);
        float rs = 1.0f / sqrtf(runningVar[ch] + eps);
        y[i] = (x[i] - runningMean[ch]) * rs * weight[ch] + bias[ch];
    }
}

// grad += lambda * sign(param), with torch.sign's sign(0) = 0 and sign(NaN) = NaN.
extern "C" __global__ void add_l1_gradient(const float* param, float* grad, float lambda, long long n)
{
    GRID_STRIDE(i, n)
    {
        float p = param[i];
        grad[i] += lambda * (p > 0.0f ? 1.0f : p < 0.0f ? -1.0f : p == 0.0f ? 0.0f : p);
    }
}

// x *= clip_grad_norm_'s factor, from the squared norm on the device. The factor is taken as `>= 1 ? 1 : factor` rather
// than fminf, which would turn a NaN norm into 1 and hide it.
extern "C" __global__ void clip_by_norm(float* x, const float* sumSquares, float maxNorm, long long n)
{
    const float factor = maxNorm / (sqrtf(sumSquares[0]) + 1e-6f);
    GRID_STRIDE(i, n)
        x[i] *= factor >= 1.0f ? 1.0f : factor;
}
