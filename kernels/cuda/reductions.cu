// Ops that reduce on the device: bias gradient, LayerNorm and batch norm forward and backward, softmax cross-entropy
// forward and its mean loss, SumReduce.
// The row kernels are launched with one block per row (or channel) of a multiple of 32 threads.
#include "common.cuh"

// Element e of channel ch's outer * inner values in a tensor [outer, channels, inner].
__device__ __forceinline__ long long channel_at(int ch, long long e, int channels, int inner)
{
    return (e / inner * channels + ch) * inner + e % inner;
}

// dBias[ch] = sum over o, i of dy[o, ch, i] (+ dBias[ch] when accumulate), for dy [outer, channels, inner]. Grid: channels.
extern "C" __global__ void bias_backward(const float* dy, float* dBias, int outer, int channels, int inner, int accumulate)
{
    const int ch = blockIdx.x;
    const long long count = (long long)outer * inner;
    float sum = 0.0f;
    for (long long e = threadIdx.x; e < count; e += blockDim.x)
        sum += dy[channel_at(ch, e, channels, inner)];
    sum = block_sum(sum);
    if (threadIdx.x == 0)
        dBias[ch] = sum + (accumulate ? dBias[ch] : 0.0f);
}

// y = (x - mean) * rstd * weight + bias per row of x [rows, cols]; saves mean and rstd = 1/sqrt(biased var + eps). Grid: rows.
extern "C" __global__ void layernorm_forward(const float* x, const float* weight, const float* bias, float* y,
                                             float* mean, float* rstd, int cols, float eps)
{
    const long long row = (long long)blockIdx.x * cols;
    float sum = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
        sum += x[row + j];
    const float mu = block_sum(sum) / cols;
    // Two passes, as the reference: the squares are taken about the mean, not as E[x^2] - mean^2.
    float squares = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float d = x[row + j] - mu;
        squares += d * d;
    }
    const float rs = 1.0f / sqrtf(block_sum(squares) / cols + eps);
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
        y[row + j] = (x[row + j] - mu) * rs * weight[j] + bias[j];
    if (threadIdx.x == 0)
    {
        mean[blockIdx.x] = mu;
        rstd[blockIdx.x] = rs;
    }
}

// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) per row, with xhat = (x - mean) * rstd, dxhat = dy * weight. Grid: rows.
// dxhat is the rounded product in both passes (__fmul_rn, which NVRTC's --fmad=true never fuses): fused into
// dxhat - mean(dxhat), the unrounded product would leave its rounding error, times rstd, where a row of one column (or
// any row whose dxhat are all equal) must get exactly 0.
extern "C" __global__ void layernorm_backward_data(const float* dy, const float* x, const float* weight, const float* mean,
                                                   const float* rstd, float* dx, int cols)
{
    const long long row = (long long)blockIdx.x * cols;
    const float mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
    float sumDxhat = 0.0f, sumDxhatXhat = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float xhat = (x[row + j] - mu) * rs;
        float dxhat = __fmul_rn(dy[row + j], weight[j]);
        sumDxhat += dxhat;
        sumDxhatXhat += dxhat * xhat;
    }
    const float meanDxhat = block_sum(sumDxhat) / cols;
    const float meanDxhatXhat = block_sum(sumDxhatXhat) / cols;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float xhat = (x[row + j] - mu) * rs;
        dx[row + j] = rs * (__fmul_rn(dy[row + j], weight[j]) - meanDxhat - xhat * meanDxhatXhat);
    }
}

#define COLUMNS_X 32 // the host launches layernorm_backward_params with blocks of COLUMNS_X x COLUMNS_Y threads
#define COLUMNS_Y 8

// dWeight[j] = sum over rows of dy * xhat, dBias[j] = sum over rows of dy. Each block sums COLUMNS_X columns, its
// threads' rows COLUMNS_Y apart, then adds the COLUMNS_Y partial sums. Grid: ceil(cols / COLUMNS_X).
extern "C" __global__ void layernorm_backward_params(const float* dy, const float* x, const float* mean, const float* rstd,
                                                     float* dWeight, float* dBias, int rows, int cols)
{
    __shared__ float partialWeight[COLUMNS_Y][COLUMNS_X + 1];
    __shared__ float partialBias[COLUMNS_Y][COLUMNS_X + 1];
    const int j = blockIdx.x * COLUMNS_X + threadIdx.x;
    float sumWeight = 0.0f, sumBias = 0.0f;
    if (j < cols)
    {
        for (int r = threadIdx.y; r < rows; r += COLUMNS_Y)
        {
            long long at = (long long)r * cols + j;
            float xhat = (x[at] - mean[r]) * rstd[r];
            sumWeight += dy[at] * xhat;
            sumBias += dy[at];
        }
    }
    partialWeight[threadIdx.y][threadIdx.x] = sumWeight;
    partialBias[threadIdx.y][threadIdx.x] = sumBias;
    __syncthreads();
    if (threadIdx.y == 0 && j < cols)
    {
        float w = 0.0f, b = 0.0f;
        for (int y = 0; y < COLUMNS_Y; y++)
        {
            w += partialWeight[y][threadIdx.x];
            b += partialBias[y][threadIdx.x];
        }
        dWeight[j] = w;
        dBias[j] = b;
    }
}

// nn.BatchNorm in train mode over x [outer, channels, inner]: y = (x - mean) * rstd * weight + bias with the biased variance of
// the channel's outer * inner values, two passes as layernorm_forward; saves mean and rstd [channels] and updates the running
// statistics in place, the variance's with the unbiased count - 1. Grid: channels.
extern "C" __global__ void batchnorm_training_forward(const float* x, const float* weight, const float* bias, float* y, float* mean,
                                                      float* rstd, float* runningMean, float* runningVar, int outer, int channels,
                                                      int inner, float eps, float momentum)
{
    const int ch = blockIdx.x;
    const long long count = (long long)outer * inner;
    float sum = 0.0f;
    for (long long e = threadIdx.x; e < count; e += blockDim.x)
        sum += x[channel_at(ch, e, channels, inner)];
    const float mu = block_sum(sum) / count;
    float squares = 0.0f;
    for (long long e = threadIdx.x; e < count; e += blockDim.x)
    {
        float d = x[channel_at(ch, e, channels, inner)] - mu;
        squares += d * d;
    }
    squares = block_sum(squares);
    const float rs = 1.0f / sqrtf(squares / count + eps);
    const float w = weight[ch], b = bias[ch];
    for (long long e = threadIdx.x; e < count; e += blockDim.x)
    {
        long long at = channel_at(ch, e, channels, inner);
        y[at] = (x[at] - mu) * rs * w + b;
    }
    if (threadIdx.x == 0)
    {
        mean[ch] = mu;
        rstd[ch] = rs;
        runningMean[ch] = (1.0f - momentum) * runningMean[ch] + momentum * mu;
        runningVar[ch] = (1.0f - momentum) * runningVar[ch] + momentum * (squares / (count - 1));
    }
}

// As layernorm_backward_data over a channel's values (dxhat = dy * weight rounded, __fmul_rn, for the reason given there),
// and the channel's dWeight = sum of dy * xhat and dBias = sum of dy from the same sums. Grid: channels.
extern "C" __global__ void batchnorm_backward(const float* dy, const float* x, const float* weight, const float* mean, const float* rstd,
                                              float* dx, float* dWeight, float* dBias, int outer, int channels, int inner)
{
    const int ch = blockIdx.x;
    const long long count = (long long)outer * inner;
    const float mu = mean[ch], rs = rstd[ch], w = weight[ch];
    float sumDy = 0.0f, sumDyXhat = 0.0f;
    for (long long e = threadIdx.x; e < count; e += blockDim.x)
    {
        long long at = channel_at(ch, e, channels, inner);
        sumDy += dy[at];
        sumDyXhat += dy[at] * (x[at] - mu) * rs;
    }
    sumDy = block_sum(sumDy);
    sumDyXhat = block_sum(sumDyXhat);
    const float meanDxhat = sumDy * w / count, meanDxhatXhat = sumDyXhat * w / count;
    for (long long e = threadIdx.x; e < count; e += blockDim.x)
    {
        long long at = channel_at(ch, e, channels, inner);
        float xhat = (x[at] - mu) * rs;
        dx[at] = rs * (__fmul_rn(dy[at], w) - meanDxhat - xhat * meanDxhatXhat);
    }
    if (threadIdx.x == 0)
    {
        dWeight[ch] = sumDyXhat;
        dBias[ch] = sumDy;
    }
}

// Forward and backward of the mean loss in one launch, as llm.c's fused classifier; one block per row of logits
// [rows, classes]: dLogits = (softmax(logits) - onehot(targets)) / rows, and rowLoss[r] = logsumexp(logits[r]) -
// logits[r, target], taken as log(sum) - (logits[r, target] - max) so that it stays finite where the target's
// probability underflows and keeps its digits where the logits are large (max + log(sum) rounds to the spacing of max).
// The mean, loss[0]: each block writes its row's loss, fences it and takes a ticket (an int atomic, which orders nothing
// but who sums); the block that takes the last one adds rowLoss [rows] up in row order with block_sum's tree, as one
// block would after the launch, so the loss's bits depend on rows alone, and sets the ticket back to 0 for the next launch.
// Grid: rows.
extern "C" __global__ void softmax_cross_entropy(const float* logits, const int* targets, float* rowLoss, int* ticket, float* loss,
                                                 float* dLogits, int rows, int classes)
{
    __shared__ bool lastBlock;
    const int target = targets[blockIdx.x];
    const long long row = (long long)blockIdx.x * classes;
    float max = NEGATIVE_INFINITY;
    for (int j = threadIdx.x; j < classes; j += blockDim.x)
        max = fmaxf(max, logits[row + j]);
    max = block_max(max);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < classes; j += blockDim.x)
        sum += expf(logits[row + j] - max);
    sum = block_sum(sum);
    for (int j = threadIdx.x; j < classes; j += blockDim.x)
        dLogits[row + j] = (expf(logits[row + j] - max) / sum - (j == target ? 1.0f : 0.0f)) / rows;
    if (threadIdx.x == 0)
    {
        rowLoss[blockIdx.x] = logf(sum) - (logits[row + target] - max);
        __threadfence(); // the row's loss is visible to every block before the ticket that counts it
        lastBlock = atomicAdd(ticket, 1) == rows - 1;
    }
    __syncthreads();
    if (!lastBlock)
        return;
    // volatile: read from memory, where the other blocks' fenced writes are, not from a cache of this SM.
    const volatile float* losses = rowLoss;
    float total = 0.0f;
    for (int r = threadIdx.x; r < rows; r += blockDim.x)
        total += losses[r];
    total = block_sum(total);
    if (threadIdx.x == 0)
    {
        loss[0] = total / rows;
        *ticket = 0;
    }
}

#define SUM_ABS 0 // the order of KernelLab.Backends.Reduction: SumAbs, SumSquares

// result[0] = alpha * the sum of |x| or x^2 over n (+ result[0] when accumulate): one block striding over n, then block_sum's
// fixed tree, so the order of the sum depends on n alone. Grid: one block.
extern "C" __global__ void sum_reduce(int f, const float* x, long long n, float* result, float alpha, int accumulate)
{
    float sum = 0.0f;
    for (long long i = threadIdx.x; i < n; i += blockDim.x)
        sum += f == SUM_ABS ? fabsf(x[i]) : x[i] * x[i];
    sum = block_sum(sum);
    if (threadIdx.x == 0)
        result[0] = alpha * sum + (accumulate ? result[0] : 0.0f);
}
