// Element-wise ops: fill, add, activations and their derivatives, bias add, the softmax cross-entropy gradient.
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

// dLogits [rows, classes] = (probabilities - onehot(targets)) / rows.
extern "C" __global__ void softmax_cross_entropy_backward(const float* probabilities, const int* targets, float* dLogits, int rows, int classes)
{
    GRID_STRIDE(i, (long long)rows * classes)
    {
        int r = (int)(i / classes), j = (int)(i % classes);
        dLogits[i] = (probabilities[i] - (j == targets[r] ? 1.0f : 0.0f)) / rows;
    }
}
