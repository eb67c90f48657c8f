// Fill, add, activations, bias, dropout, the L1 subgradient and the gradient clip. One work-item per element unless said
// otherwise.

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

// y = a * b (dropout's backward: dx = dy * mask). y may be a or b.
__kernel void multiply(__global const float* a, int ao, __global const float* b, int bo, __global float* y, int yo, int n)
{
    int i = get_global_id(0);
    if (i < n)
        y[yo + i] = a[ao + i] * b[bo + i];
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
        sum += dy[dyo + channel_at(c, j, channels, inner)];
    sum = group_sum(sum, scratch);
    if (get_local_id(0) == 0)
        dBias[dbo + c] = sum + (accumulate ? dBias[dbo + c] : 0.0f);
}

// Philox4x32-10, as backends/Contract/Philox.cs: the four words of counter c under key (k0, k1).
#define PHILOX_M0 0xD2511F53u // round multipliers
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u // key schedule increments
#define PHILOX_W1 0xBB67AE85u

uint4 philox(uint4 c, uint k0, uint k1)
{
    for (int round = 0; round < 10; round++)
    {
        if (round > 0)
        {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
    }
    return c;
}

// DropoutMask's recipe: element i is kept (mask = scale, else 0) when word i % 4 of counter (i / 4, site, step0, step1)
// under key (key0, key1) is at least threshold, an integer compare, so the mask is the reference's bit for bit.
// y = x * mask. One work-item per counter, four elements; y may be x.
__kernel void dropout_forward(__global const float* x, int xo, __global float* mask, int mo, __global float* y, int yo, int n,
                              uint threshold, float scale, uint site, uint step0, uint step1, uint key0, uint key1)
{
    int counter = get_global_id(0);
    if (counter >= (n + 3) / 4)
        return;
    uint4 r = philox((uint4)(counter, site, step0, step1), key0, key1);
    uint words[4] = { r.x, r.y, r.z, r.w };
    for (int k = 0; k < 4 && counter * 4 + k < n; k++)
    {
        int i = counter * 4 + k;
        float m = words[k] >= threshold ? scale : 0.0f;
        mask[mo + i] = m;
        y[yo + i] = x[xo + i] * m;
    }
}

// grad += lambda * sign(param), with torch.sign's sign(0) = 0 and sign(NaN) = NaN (OpenCL's sign gives 0 for NaN).
__kernel void add_l1_gradient(__global const float* param, int po, __global float* grad, int go, int n, float lambda)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float p = param[po + i];
    float s = p > 0.0f ? 1.0f : p < 0.0f ? -1.0f : p == 0.0f ? 0.0f : p;
    grad[go + i] += lambda * s;
}

// x *= clip_grad_norm_'s factor, from the squared norm on the device. The factor is taken as `>= 1 ? 1 : factor` rather
// than fmin, which would turn a NaN norm into 1 and hide it.
__kernel void clip_by_norm(__global float* x, int xo, __global const float* sumSquares, int so, int n, float maxNorm)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float factor = maxNorm / (sqrt(sumSquares[so]) + 1e-6f);
    x[xo + i] *= factor >= 1.0f ? 1.0f : factor;
}
