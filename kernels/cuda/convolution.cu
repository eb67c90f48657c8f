// Convolution (stride 1, zero padding K/2, cross-correlation as PyTorch's conv2d) and 2x2 max pooling, over NCHW tensors.
// x [batch, inC, H, W], w [outC, inC, K, K], y [batch, outC, H, W].
#include "common.cuh"

// One thread per output element.
extern "C" __global__ void conv2d_forward(const float* x, const float* w, float* y,
                                          int batch, int inC, int outC, int height, int width, int K)
{
    const int pad = K / 2;
    GRID_STRIDE(at, (long long)batch * outC * height * width)
    {
        int ow = (int)(at % width), oh = (int)(at / width % height);
        long long bco = at / ((long long)width * height);
        int co = (int)(bco % outC), b = (int)(bco / outC);
        float sum = 0.0f;
        for (int ci = 0; ci < inC; ci++)
        {
            const float* plane = x + ((long long)b * inC + ci) * height * width;
            const float* kernel = w + ((long long)co * inC + ci) * K * K;
            for (int kh = 0; kh < K; kh++)
            {
                int ih = oh + kh - pad;
                if (ih < 0 || ih >= height)
                    continue;
                for (int kw = 0; kw < K; kw++)
                {
                    int iw = ow + kw - pad;
                    if (iw >= 0 && iw < width)
                        sum += plane[(long long)ih * width + iw] * kernel[kh * K + kw];
                }
            }
        }
        y[at] = sum;
    }
}

// One thread per input element: dx[b, ci, ih, iw] = sum over co, kh, kw of dy[b, co, ih - kh + pad, iw - kw + pad] * w[co, ci, kh, kw].
extern "C" __global__ void conv2d_backward_data(const float* dy, const float* w, float* dx,
                                                int batch, int inC, int outC, int height, int width, int K)
{
    const int pad = K / 2;
    GRID_STRIDE(at, (long long)batch * inC * height * width)
    {
        int iw = (int)(at % width), ih = (int)(at / width % height);
        long long bci = at / ((long long)width * height);
        int ci = (int)(bci % inC), b = (int)(bci / inC);
        float sum = 0.0f;
        for (int co = 0; co < outC; co++)
        {
            const float* plane = dy + ((long long)b * outC + co) * height * width;
            const float* kernel = w + ((long long)co * inC + ci) * K * K;
            for (int kh = 0; kh < K; kh++)
            {
                int oh = ih - kh + pad;
                if (oh < 0 || oh >= height)
                    continue;
                for (int kw = 0; kw < K; kw++)
                {
                    int ow = iw - kw + pad;
                    if (ow >= 0 && ow < width)
                        sum += plane[(long long)oh * width + ow] * kernel[kh * K + kw];
                }
            }
        }
        dx[at] = sum;
    }
}

// One block per weight element (co, ci, kh, kw), reducing x * dy over batch and output positions. Grid: outC * inC * K * K.
extern "C" __global__ void conv2d_backward_weight(const float* x, const float* dy, float* dw,
                                                  int batch, int inC, int outC, int height, int width, int K)
{
    const int pad = K / 2;
    const int kw = blockIdx.x % K, kh = blockIdx.x / K % K;
    const int ci = blockIdx.x / (K * K) % inC, co = blockIdx.x / (K * K * inC);
    const long long planeSize = (long long)height * width;
    float sum = 0.0f;
    for (long long e = threadIdx.x; e < batch * planeSize; e += blockDim.x)
    {
        int b = (int)(e / planeSize);
        int oh = (int)(e % planeSize / width), ow = (int)(e % width);
        int ih = oh + kh - pad, iw = ow + kw - pad;
        if (ih >= 0 && ih < height && iw >= 0 && iw < width)
            sum += x[((long long)b * inC + ci) * planeSize + (long long)ih * width + iw]
                 * dy[((long long)b * outC + co) * planeSize + (long long)oh * width + ow];
    }
    sum = block_sum(sum);
    if (threadIdx.x == 0)
        dw[blockIdx.x] = sum;
}

// 2x2 max pool, stride 2, floor: x [planes, H, W] to y [planes, H/2, W/2]. argMax holds the position (h * W + w, within its
// plane) of the input taken: the first maximum in row-major order, or the last NaN, as the reference. One thread per output.
extern "C" __global__ void maxpool2d_forward(const float* x, float* y, int* argMax, int planes, int height, int width)
{
    const int outH = height / 2, outW = width / 2;
    GRID_STRIDE(at, (long long)planes * outH * outW)
    {
        int ow = (int)(at % outW), oh = (int)(at / outW % outH);
        long long p = at / ((long long)outW * outH);
        const float* plane = x + p * height * width;
        int best = 2 * oh * width + 2 * ow;
        for (int dh = 0; dh < 2; dh++)
            for (int dw = 0; dw < 2; dw++)
            {
                int i = (2 * oh + dh) * width + 2 * ow + dw;
                float v = plane[i];
                if (v > plane[best] || isnan(v))
                    best = i;
            }
        y[at] = plane[best];
        argMax[at] = best;
    }
}

// One thread per input element: its window's gradient where it was the window's arg-max, else 0 (the row and column that
// the floor drops included), so every element of dx is written once.
extern "C" __global__ void maxpool2d_backward(const float* dy, const int* argMax, float* dx, int planes, int height, int width)
{
    const int outH = height / 2, outW = width / 2;
    GRID_STRIDE(at, (long long)planes * height * width)
    {
        int iw = (int)(at % width), ih = (int)(at / width % height);
        long long p = at / ((long long)width * height);
        int oh = ih / 2, ow = iw / 2;
        float g = 0.0f;
        if (oh < outH && ow < outW)
        {
            long long j = (p * outH + oh) * outW + ow;
            if (argMax[j] == ih * width + iw)
                g = dy[j];
        }
        dx[at] = g;
    }
}
