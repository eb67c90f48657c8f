// Fill, add, activations and bias. One work-item per element unless said otherwise.

#define SQRT_2_OVER_PI 0.7978845608028654f
#define GELU_CUBIC 0.044715f

// The order of KernelLab.Backends.Activation.
#define RELU 0
#define GELU_TANH 1
#define SIGMOID 2

__kernel void fill(__global float* y, int yo, int n, float value)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] = value;
}

// y may be a or b.
__kernel void add(__global const float* a, int ao, __global const float* b, int bo, __global float* y, int yo, int n)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] = a[ao + i] + b[bo + i];
}

float activate(int f, float x)
{
    switch (f)
    {
        case RELU: return x <= 0.0f ? 0.0f : x; // as PyTorch's threshold: NaN passes through
        case GELU_TANH: return 0.5f * x * (1.0f + tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)));
        case SIGMOID: return 1.0f / (1.0f + exp(-x));
        default: return tanh(x);
    }
}

// f'(x) from the input x and the output y (sigmoid and tanh from y), as the reference.
float derivative(int f, float x, float y)
{
    switch (f)
    {
        case RELU: return x <= 0.0f ? 0.0f : 1.0f;
        case GELU_TANH:
        {
            float t = tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x));
            float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_CUBIC * x * x);
            return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
        }
        case SIGMOID: return y * (1.0f - y);
        default: return 1.0f - y * y;
    }
}

// y may be x.
__kernel void activation_forward(int f, __global const float* x, int xo, __global float* y, int yo, int n)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] = activate(f, x[xo + i]);
}

// dx may be dy.
__kernel void activation_backward(int f, __global const float* x, int xo, __global const float* y, int yo,
                                  __global const float* dy, int dyo, __global float* dx, int dxo, int n)
{
    int i = get_global_id(0);
    if (i < n)
        dx[dxo + i] = derivative(f, x[xo + i], y[yo + i]) * dy[dyo + i];
}

// y [outer, channels, inner] += bias[channel].
__kernel void add_bias(__global float* y, int yo, __global const float* bias, int bo, int channels, int inner, int n)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] += bias[bo + (i / inner) % channels];
}

// dBias[c] = sum over rows of dy [outer, channels] (inner = 1): one work-item per channel, reading along rows.
__kernel void bias_backward_columns(__global const float* dy, int dyo, __global float* dBias, int dbo,
                                    int outer, int channels, int accumulate)
{
    int c = get_global_id(0);
    if (c >= channels)
        return;
    float sum = 0.0f;
    for (int o = 0; o < outer; o++)
        sum += dy[dyo + o * channels + c];
    dBias[dbo + c] = sum + (accumulate ? dBias[dbo + c] : 0.0f);
}

// dBias[c] = sum over o, i of dy [outer, channels, inner]: one work-group per channel.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void bias_backward_planes(__global const float* dy, int dyo, __global float* dBias, int dbo,
                          int outer, int channels, int inner, int accumulate)
{
    __local float scratch[REDUCE_GROUP];
    int c = get_group_id(0);
    float sum = 0.0f;
    for (int j = get_local_id(0); j < outer * inner; j += REDUCE_GROUP)
        sum += dy[dyo + ((j / inner) * channels + c) * inner + j % inner];
    sum = group_sum(sum, scratch);
    if (get_local_id(0) == 0)
        dBias[dbo + c] = sum + (accumulate ? dBias[dbo + c] : 0.0f);
}
