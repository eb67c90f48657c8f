// LayerNorm, batch norm, the softmax cross-entropy loss and SumReduce: reductions, one work-group per row (or column, or
// channel).

// No fused multiply-adds: dx = rstd * (dy * w - mean(dy * w) - ...) must cancel exactly where the reference's does
// (a row of one column), which a product fused into one subtraction but not the other would not.
#pragma OPENCL FP_CONTRACT OFF

// y = (x - mean) * rstd * weight + bias per row of x [rows, cols]; mean and rstd [rows] saved. Two passes (mean, then
// the biased variance) as the reference.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void layernorm_forward(__global const float* x, int xo, __global const float* weight, int wo, __global const float* bias, int bo,
                       __global float* y, int yo, __global float* mean, int mo, __global float* rstd, int ro, int cols, float eps)
{
    __local float scratch[REDUCE_GROUP];
    int r = get_group_id(0), lid = get_local_id(0);
    __global const float* row = x + xo + r * cols;
    float s = 0.0f;
    for (int j = lid; j < cols; j += REDUCE_GROUP)
        s += row[j];
    float mu = group_sum(s, scratch) / cols;
    float sq = 0.0f;
    for (int j = lid; j < cols; j += REDUCE_GROUP)
        sq += (row[j] - mu) * (row[j] - mu);
    float rs = 1.0f / sqrt(group_sum(sq, scratch) / cols + eps);
    for (int j = lid; j < cols; j += REDUCE_GROUP)
        y[yo + r * cols + j] = (row[j] - mu) * rs * weight[wo + j] + bias[bo + j];
    if (lid == 0)
    {
        mean[mo + r] = mu;
        rstd[ro + r] = rs;
    }
}

// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) per row, with xhat = (x - mean) * rstd, dxhat = dy * weight.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void layernorm_backward_input(__global const float* dy, int dyo, __global const float* x, int xo, __global const float* weight, int wo,
                              __global const float* mean, int mo, __global const float* rstd, int ro, __global float* dx, int dxo, int cols)
{
    __local float scratch[REDUCE_GROUP];
    int r = get_group_id(0), lid = get_local_id(0);
    float mu = mean[mo + r], rs = rstd[ro + r];
    float sumDxhat = 0.0f, sumDxhatXhat = 0.0f;
    for (int j = lid; j < cols; j += REDUCE_GROUP)
    {
        int at = r * cols + j;
        float dxhat = dy[dyo + at] * weight[wo + j];
        sumDxhat += dxhat;
        sumDxhatXhat += dxhat * (x[xo + at] - mu) * rs;
    }
    float meanDxhat = group_sum(sumDxhat, scratch) / cols;
    float meanDxhatXhat = group_sum(sumDxhatXhat, scratch) / cols;
    for (int j = lid; j < cols; j += REDUCE_GROUP)
    {
        int at = r * cols + j;
        float xhat = (x[xo + at] - mu) * rs;
        dx[dxo + at] = rs * (dy[dyo + at] * weight[wo + j] - meanDxhat - xhat * meanDxhatXhat);
    }
}

// dWeight[j] = sum over rows of dy * xhat, dBias[j] = sum over rows of dy: one work-group per column.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void layernorm_backward_params(__global const float* dy, int dyo, __global const float* x, int xo,
                               __global const float* mean, int mo, __global const float* rstd, int ro,
                               __global float* dWeight, int dwo, __global float* dBias, int dbo, int rows, int cols)
{
    __local float scratch[REDUCE_GROUP];
    int j = get_group_id(0), lid = get_local_id(0);
    float sw = 0.0f, sb = 0.0f;
    for (int r = lid; r < rows; r += REDUCE_GROUP)
    {
        int at = r * cols + j;
        float g = dy[dyo + at];
        sw += g * (x[xo + at] - mean[mo + r]) * rstd[ro + r];
        sb += g;
    }
    sw = group_sum(sw, scratch);
    sb = group_sum(sb, scratch);
    if (lid == 0)
    {
        dWeight[dwo + j] = sw;
        dBias[dbo + j] = sb;
    }
}

// nn.BatchNorm in train mode, one work-group per channel of x [outer, channels, inner] (count = outer * inner values):
// y = (x - mean) * rstd * weight + bias with the biased variance, two passes as LayerNorm; mean and rstd [channels] saved,
// and the running statistics updated in place, the variance's with the unbiased count - 1.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void batchnorm_training_forward(__global const float* x, int xo, __global const float* weight, int wo, __global const float* bias, int bo,
                                __global float* y, int yo, __global float* mean, int mo, __global float* rstd, int ro,
                                __global float* runningMean, int rmo, __global float* runningVar, int rvo,
                                int channels, int inner, int count, float eps, float momentum)
{
    __local float scratch[REDUCE_GROUP];
    int c = get_group_id(0), lid = get_local_id(0);
    float s = 0.0f;
    for (int j = lid; j < count; j += REDUCE_GROUP)
        s += x[xo + channel_at(c, j, channels, inner)];
    float mu = group_sum(s, scratch) / count;
    float sq = 0.0f;
    for (int j = lid; j < count; j += REDUCE_GROUP)
    {
        float d = x[xo + channel_at(c, j, channels, inner)] - mu;
        sq += d * d;
    }
    float squares = group_sum(sq, scratch);
    float rs = 1.0f / sqrt(squares / count + eps);
    float w = weight[wo + c], b = bias[bo + c];
    for (int j = lid; j < count; j += REDUCE_GROUP)
    {
        int at = channel_at(c, j, channels, inner);
        y[yo + at] = (x[xo + at] - mu) * rs * w + b;
    }
    if (lid == 0)
    {
        mean[mo + c] = mu;
        rstd[ro + c] = rs;
        runningMean[rmo + c] = (1.0f - momentum) * runningMean[rmo + c] + momentum * mu;
        runningVar[rvo + c] = (1.0f - momentum) * runningVar[rvo + c] + momentum * (squares / (count - 1));
    }
}

// nn.BatchNorm in eval mode: y = (x - runningMean) / sqrt(runningVar + eps) * weight + bias, one work-item per element.
__kernel void batchnorm_eval_forward(__global const float* x, int xo, __global const float* weight, int wo, __global const float* bias, int bo,
                                     __global const float* runningMean, int rmo, __global const float* runningVar, int rvo,
                                     __global float* y, int yo, int channels, int inner, int n, float eps)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int c = (i / inner) % channels;
    float rs = 1.0f / sqrt(runningVar[rvo + c] + eps);
    y[yo + i] = (x[xo + i] - runningMean[rmo + c]) * rs * weight[wo + c] + bias[bo + c];
}

// As layernorm_backward_input over a channel's values, and the channel's dWeight = sum of dy * xhat and dBias = sum of dy
// from the same sums: one work-group per channel.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void batchnorm_backward(__global const float* dy, int dyo, __global const float* x, int xo, __global const float* weight, int wo,
                        __global const float* mean, int mo, __global const float* rstd, int ro, __global float* dx, int dxo,
                        __global float* dWeight, int dwo, __global float* dBias, int dbo, int channels, int inner, int count)
{
    __local float scratch[REDUCE_GROUP];
    int c = get_group_id(0), lid = get_local_id(0);
    float mu = mean[mo + c], rs = rstd[ro + c], w = weight[wo + c];
    float sumDy = 0.0f, sumDyXhat = 0.0f;
    for (int j = lid; j < count; j += REDUCE_GROUP)
    {
        int at = channel_at(c, j, channels, inner);
        float g = dy[dyo + at];
        sumDy += g;
        sumDyXhat += g * (x[xo + at] - mu) * rs;
    }
    sumDy = group_sum(sumDy, scratch);
    sumDyXhat = group_sum(sumDyXhat, scratch);
    float meanDxhat = sumDy * w / count, meanDxhatXhat = sumDyXhat * w / count;
    for (int j = lid; j < count; j += REDUCE_GROUP)
    {
        int at = channel_at(c, j, channels, inner);
        float xhat = (x[xo + at] - mu) * rs;
        dx[dxo + at] = rs * (dy[dyo + at] * w - meanDxhat - xhat * meanDxhatXhat);
    }
    if (lid == 0)
    {
        dWeight[dwo + c] = sumDyXhat;
        dBias[dbo + c] = sumDy;
    }
}

// Forward and backward of the loss in one pass, one work-group per row of logits [rows, classes]: dLogits =
// (softmax(logits) - onehot(target)) / rows, and rowLoss[r] = logsumexp(logits) - logits[target], taken as
// log(sum) - (logits[target] - max) so that it stays finite where p[target] underflows to 0 and keeps its digits where
// the logits are large (max + log(sum) would round to the spacing of max).
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void softmax_cross_entropy(__global const float* logits, int lo, __global const int* targets,
                           __global float* rowLoss, int rlo, __global float* dLogits, int dlo, int rows, int classes)
{
    __local float scratch[REDUCE_GROUP];
    int r = get_group_id(0), lid = get_local_id(0), target = targets[r];
    __global const float* row = logits + lo + r * classes;
    float m = -INFINITY;
    for (int j = lid; j < classes; j += REDUCE_GROUP)
        m = fmax(m, row[j]);
    m = group_max(m, scratch);
    float s = 0.0f;
    for (int j = lid; j < classes; j += REDUCE_GROUP)
        s += exp(row[j] - m);
    s = group_sum(s, scratch);
    for (int j = lid; j < classes; j += REDUCE_GROUP)
        dLogits[dlo + r * classes + j] = (exp(row[j] - m) / s - (j == target ? 1.0f : 0.0f)) / rows;
    if (lid == 0)
        rowLoss[rlo + r] = log(s) - (row[target] - m);
}

// loss[0] = mean of values [n]: one work-group.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void mean_reduce(__global const float* values, int vo, __global float* loss, int lo, int n)
{
    __local float scratch[REDUCE_GROUP];
    float s = 0.0f;
    for (int i = get_local_id(0); i < n; i += REDUCE_GROUP)
        s += values[vo + i];
    s = group_sum(s, scratch);
    if (get_local_id(0) == 0)
        loss[lo] = s / n;
}

// The order of KernelLab.Backends.Reduction.
#define SUM_ABS 0

// result[0] = alpha * the sum of |x| or x^2 over n (+ result[0] when accumulate): one work-group striding over n, then
// the tree of group_sum, an order fixed by n alone.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void sum_reduce(int f, __global const float* x, int xo, int n, __global float* result, int ro, float alpha, int accumulate)
{
    __local float scratch[REDUCE_GROUP];
    float s = 0.0f;
    for (int i = get_local_id(0); i < n; i += REDUCE_GROUP)
    {
        float v = x[xo + i];
        s += f == SUM_ABS ? fabs(v) : v * v;
    }
    s = group_sum(s, scratch);
    if (get_local_id(0) == 0)
        result[ro] = alpha * s + (accumulate ? result[ro] : 0.0f);
}
