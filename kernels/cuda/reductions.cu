// Ops that reduce on the device: bias gradient, LayerNorm and batch norm forward and backward, softmax cross-entropy
// forward and its mean loss, SumReduce.
// The row kernels are launched with one block per row (or channel) of a multiple of 32 threads, the _columns kernels
// with blocks of COLUMNS_X x COLUMNS_Y threads.
#include "common.cuh"

#define COLUMNS_X 32 // the host launches the _columns kernels and layernorm_backward_params with blocks of COLUMNS_X x COLUMNS_Y threads
#define COLUMNS_Y 8

// The sum over threadIdx.y of v in a COLUMNS_X x COLUMNS_Y block, added in the order y = 0, 1, ..., returned to every
// thread of the column. The trailing barrier lets the next call reuse the shared slots.
__device__ float column_sum(float v)
{
    __shared__ float partial[COLUMNS_Y][COLUMNS_X + 1]; // the +1 spreads a column's slots over banks
    partial[threadIdx.y][threadIdx.x] = v;
    __syncthreads();
    float sum = 0.0f;
    for (int y = 0; y < COLUMNS_Y; y++)
        sum += partial[y][threadIdx.x];
    __syncthreads();
    return sum;
}

// The per-channel reductions over [outer, channels, inner] come in two layouts, COLUMNS false or true:
// - one block per channel, its threads striding over the channel's outer * inner values (block_sum adds them). Where
//   inner is large (a convolution's H * W) a warp reads runs of contiguous values.
// - the _columns kernels: COLUMNS_X channels per block, thread (x, y) taking channel blockIdx.x * COLUMNS_X + x and its
//   rows o = y, y + COLUMNS_Y, ... (each row's inner values in turn; column_sum adds the COLUMNS_Y partial sums). Where
//   inner is small (1 for a linear layer's bias and BatchNorm1d), a warp reads 32 neighbouring channels of one row,
//   where one block per channel would read one value every channels * inner.

// The channel of the calling thread.
template <bool COLUMNS>
__device__ __forceinline__ int channel_of_thread() { return COLUMNS ? blockIdx.x * COLUMNS_X + threadIdx.x : blockIdx.x; }

// A loop header: the statement after it runs with `at` the index in [outer, channels, inner] of each of the calling
// thread's share of channel ch's values (none for a column past the last channel). One block per channel: the rows loop
// runs once and e strides over the outer * inner values; columns: rows o = threadIdx.y, + COLUMNS_Y, ..., and e over a
// row's inner values. COLUMNS is a constant, so the other layout's arithmetic folds away.
#define FOR_CHANNEL_VALUES(COLUMNS, at, ch, outer, channels, inner)                                                          \
    for (int o_ = (COLUMNS) ? ((ch) < (channels) ? (int)threadIdx.y : (outer)) : 0; o_ < ((COLUMNS) ? (outer) : 1);       \
         o_ += COLUMNS_Y)                                                                                                 \
        for (long long e_ = (COLUMNS) ? 0 : threadIdx.x, at = 0;                                                          \
             e_ < ((COLUMNS) ? (long long)(inner) : (long long)(outer) * (inner)) &&                                      \
             ((at = (COLUMNS) ? ((long long)o_ * (channels) + (ch)) * (inner) + e_                                         \
                              : (e_ / (inner) * (channels) + (ch)) * (inner) + e_ % (inner)), true);                       \
             e_ += (COLUMNS) ? 1 : blockDim.x)

// The sum of v over the threads of the calling thread's channel, in an order fixed by the launch shape.
template <bool COLUMNS>
__device__ __forceinline__ float channel_sum(float v) { return COLUMNS ? column_sum(v) : block_sum(v); }

// Whether the calling thread writes its channel's results.
template <bool COLUMNS>
__device__ __forceinline__ bool channel_writer(int ch, int channels)
{
    return COLUMNS ? threadIdx.y == 0 && ch < channels : threadIdx.x == 0;
}

// dBias[ch] = sum over o, i of dy[o, ch, i] (+ dBias[ch] when accumulate), for dy [outer, channels, inner].
template <bool COLUMNS>
__device__ __forceinline__ void bias_backward_in(const float* dy, float* dBias, int outer, int channels, int inner, int accumulate)
{
    const int ch = channel_of_thread<COLUMNS>();
    float sum = 0.0f;
    FOR_CHANNEL_VALUES(COLUMNS, at, ch, outer, channels, inner)
        sum += dy[at];
    sum = channel_sum<COLUMNS>(sum);
    if (channel_writer<COLUMNS>(ch, channels))
        dBias[ch] = sum + (accumulate ? dBias[ch] : 0.0f);
}

// Grid: channels.
extern "C" __global__ void bias_backward(const float* dy, float* dBias, int outer, int channels, int inner, int accumulate)
{
    bias_backward_in<false>(dy, dBias, outer, channels, inner, accumulate);
}

// Grid: ceil(channels / COLUMNS_X).
extern "C" __global__ void bias_backward_columns(const float* dy, float* dBias, int outer, int channels, int inner, int accumulate)
{
    bias_backward_in<true>(dy, dBias, outer, channels, inner, accumulate);
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

// dWeight[j] = sum over rows of dy * xhat, dBias[j] = sum over rows of dy. Each block sums COLUMNS_X columns, its
// threads' rows COLUMNS_Y apart, then adds the COLUMNS_Y partial sums. Grid: ceil(cols / COLUMNS_X).
extern "C" __global__ void layernorm_backward_params(const float* dy, const float* x, const float* mean, const float* rstd,
                                                     float* dWeight, float* dBias, int rows, int cols)
{
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
    sumWeight = column_sum(sumWeight);
    sumBias = column_sum(sumBias);
    if (threadIdx.y == 0 && j < cols)
    {
        dWeight[j] = sumWeight;
        dBias[j] = sumBias;
    }
}

// nn.BatchNorm in train mode over x [outer, channels, inner]: y = (x - mean) * rstd * weight + bias with the biased variance of
// the channel's outer * inner values, two passes as layernorm_forward; saves mean and rstd [channels] and updates the running
// statistics in place, the variance's with the unbiased count - 1.
template <bool COLUMNS>
__device__ __forceinline__ void batchnorm_training_forward_in(const float* x, const float* weight, const float* bias, float* y,
                                                              float* mean, float* rstd, float* runningMean, float* runningVar,
                                                              int outer, int channels, int inner, float eps, float momentum)
{
    const int ch = channel_of_thread<COLUMNS>();
    const long long count = (long long)outer * inner;
    float sum = 0.0f;
    FOR_CHANNEL_VALUES(COLUMNS, at, ch, outer, channels, inner)
        sum += x[at];
    const float mu = channel_sum<COLUMNS>(sum) / count;
    float squares = 0.0f;
    FOR_CHANNEL_VALUES(COLUMNS, at, ch, outer, channels, inner)
    {
        float d = x[at] - mu;
        squares += d * d;
    }
    squares = channel_sum<COLUMNS>(squares);
    const float rs = 1.0f / sqrtf(squares / count + eps);
    const float w = ch < channels ? weight[ch] : 0.0f, b = ch < channels ? bias[ch] : 0.0f;
    FOR_CHANNEL_VALUES(COLUMNS, at, ch, outer, channels, inner)
        y[at] = (x[at] - mu) * rs * w + b;
    if (channel_writer<COLUMNS>(ch, channels))
    {
        mean[ch] = mu;
        rstd[ch] = rs;
        runningMean[ch] = (1.0f - momentum) * runningMean[ch] + momentum * mu;
        runningVar[ch] = (1.0f - momentum) * runningVar[ch] + momentum * (squares / (count - 1));
    }
}

// Grid: channels.
extern "C" __global__ void batchnorm_training_forward(const float* x, const float* weight, const float* bias, float* y, float* mean,
                                                      float* rstd, float* runningMean, float* runningVar, int outer, int channels,
                                                      int inner, float eps, float momentum)
{
    batchnorm_training_forward_in<false>(x, weight, bias, y, mean, rstd, runningMean, runningVar, outer, channels, inner, eps, momentum);
}

// Grid: ceil(channels / COLUMNS_X).
extern "C" __global__ void batchnorm_training_forward_columns(const float* x, const float* weight, const float* bias, float* y,
                                                              float* mean, float* rstd, float* runningMean, float* runningVar,
                                                              int outer, int channels, int inner, float eps, float momentum)
{
    batchnorm_training_forward_in<true>(x, weight, bias, y, mean, rstd, runningMean, runningVar, outer, channels, inner, eps, momentum);
}

// As layernorm_backward_data over a channel's values (dxhat = dy * weight rounded, __fmul_rn, for the reason given there),
// and the channel's dWeight = sum of dy * xhat and dBias = sum of dy from the same sums.
template <bool COLUMNS>
__device__ __forceinline__ void batchnorm_backward_in(const float* dy, const float* x, const float* weight, const float* mean,
                                                      const float* rstd, float* dx, float* dWeight, float* dBias,
                                                      int outer, int channels, int inner)
{
    const int ch = channel_of_thread<COLUMNS>();
    const long long count = (long long)outer * inner;
    const bool inside = ch < channels;
    const float mu = inside ? mean[ch] : 0.0f, rs = inside ? rstd[ch] : 0.0f, w = inside ? weight[ch] : 0.0f;
    float sumDy = 0.0f, sumDyXhat = 0.0f;
    FOR_CHANNEL_VALUES(COLUMNS, at, ch, outer, channels, inner)
    {
        sumDy += dy[at];
        sumDyXhat += dy[at] * (x[at] - mu) * rs;
    }
    sumDy = channel_sum<COLUMNS>(sumDy);
    sumDyXhat = channel_sum<COLUMNS>(sumDyXhat);
    const float meanDxhat = sumDy * w / count, meanDxhatXhat = sumDyXhat * w / count;
    FOR_CHANNEL_VALUES(COLUMNS, at, ch, outer, channels, inner)
    {
        float xhat = (x[at] - mu) * rs;
        dx[at] = rs * (__fmul_rn(dy[at], w) - meanDxhat - xhat * meanDxhatXhat);
    }
    if (channel_writer<COLUMNS>(ch, channels))
    {
        dWeight[ch] = sumDyXhat;
        dBias[ch] = sumDy;
    }
}

// Grid: channels.
extern "C" __global__ void batchnorm_backward(const float* dy, const float* x, const float* weight, const float* mean, const float* rstd,
                                              float* dx, float* dWeight, float* dBias, int outer, int channels, int inner)
{
    batchnorm_backward_in<false>(dy, x, weight, mean, rstd, dx, dWeight, dBias, outer, channels, inner);
}

// Grid: ceil(channels / COLUMNS_X).
extern "C" __global__ void batchnorm_backward_columns(const float* dy, const float* x, const float* weight, const float* mean,
                                                      const float* rstd, float* dx, float* dWeight, float* dBias,
                                                      int outer, int channels, int inner)
{
    batchnorm_backward_in<true>(dy, x, weight, mean, rstd, dx, dWeight, dBias, outer, channels, inner);
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

#define SUM_ABS 0    // the order of KernelLab.Backends.Reduction: SumAbs, SumSquares
#define SUM_VALUES 2 // not a Reduction: the values themselves, for the second pass over the blocks' partial sums

// result[blockIdx.x] = alpha * the sum of |x|, x^2 or x over this block's share of [0, n) (+ result[blockIdx.x] when
// accumulate): thread t of block k takes k * blockDim + t and every gridDim * blockDim after it, then block_sum's fixed
// tree adds the threads' sums. One block writes the whole sum; with more, the host adds the blocks' partial sums with a
// second launch of one block (SUM_VALUES). It draws the grid from n alone, so the order of the sum depends on n alone.
extern "C" __global__ void sum_reduce(int f, const float* x, long long n, float* result, float alpha, int accumulate)
{
    float sum = 0.0f;
    GRID_STRIDE(i, n)
        sum += f == SUM_ABS ? fabsf(x[i]) : f == SUM_VALUES ? x[i] : x[i] * x[i];
    sum = block_sum(sum);
    if (threadIdx.x == 0)
        result[blockIdx.x] = alpha * sum + (accumulate ? result[blockIdx.x] : 0.0f);
}
