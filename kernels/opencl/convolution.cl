// Conv2d (stride 1, zero padding K/2, NCHW) and 2x2 max pooling. x [batch, cin, h, w], w [cout, cin, K, K],
// y [batch, cout, h, w]. Each output element is written by exactly one work-item, so no clearing is needed.

// out = conv2d(in, w): one work-item per 8 consecutive output columns of one output row, accumulated as float8
// (SIMD on a CPU, 8 accumulators on a GPU). The data gradient is the same sum read through the transposed taps:
// dx[b, ci, ih, iw] = sum over co, kh, kw of dy[b, co, ih + kh - pad, iw + kw - pad] * w[co, ci, K-1-kh, K-1-kw],
// so one kernel serves both: with transposed = 1, in is dy, out is dx and the weight is read flipped and transposed.
#define COLUMNS 8

__kernel void conv2d_rows(__global const float* in, int ino, __global const float* w, int wo, __global float* out, int outo,
                          int batch, int inC, int outC, int h, int wd, int ks, int transposed)
{
    int chunks = (wd + COLUMNS - 1) / COLUMNS;
    int idx = get_global_id(0);
    if (idx >= batch * outC * h * chunks)
        return;
    int chunk = idx % chunks, oh = (idx / chunks) % h, oc = (idx / (chunks * h)) % outC, b = idx / (chunks * h * outC);
    int ow0 = chunk * COLUMNS, pad = ks / 2;
    float8 acc = (float8)(0.0f);
    for (int ic = 0; ic < inC; ic++)
        for (int kh = 0; kh < ks; kh++)
        {
            int ih = oh + kh - pad;
            if (ih < 0 || ih >= h)
                continue;
            __global const float* row = in + ino + ((b * inC + ic) * h + ih) * wd;
            for (int kw = 0; kw < ks; kw++)
            {
                int iw0 = ow0 + kw - pad;
                float8 xv;
                if (iw0 >= 0 && iw0 + COLUMNS <= wd)
                {
                    xv = vload8(0, row + iw0);
                }
                else
                {
                    float lanes[COLUMNS];
                    for (int e = 0; e < COLUMNS; e++)
                        lanes[e] = iw0 + e >= 0 && iw0 + e < wd ? row[iw0 + e] : 0.0f;
                    xv = vload8(0, lanes);
                }
                float wv = transposed ? w[wo + ((ic * outC + oc) * ks + (ks - 1 - kh)) * ks + (ks - 1 - kw)]
                                      : w[wo + ((oc * inC + ic) * ks + kh) * ks + kw];
                acc += wv * xv;
            }
        }
    __global float* o = out + outo + ((b * outC + oc) * h + oh) * wd + ow0;
    if (ow0 + COLUMNS <= wd)
    {
        vstore8(acc, 0, o);
    }
    else
    {
        float lanes[COLUMNS];
        vstore8(acc, 0, lanes);
        for (int e = 0; ow0 + e < wd; e++)
            o[e] = lanes[e];
    }
}

// dw: one work-group per weight element, reducing over batch and output positions: each work-item takes whole
// output rows (b, oh), so the inner loop runs along a row of x and of dy with no index arithmetic.
__kernel __attribute__((reqd_work_group_size(REDUCE_GROUP, 1, 1)))
void conv2d_backward_weight(__global const float* x, int xo, __global const float* dy, int dyo, __global float* dw, int dwo,
                            int batch, int cin, int cout, int h, int wd, int ks)
{
    __local float scratch[REDUCE_GROUP];
    int widx = get_group_id(0);
    int kw = widx % ks, kh = (widx / ks) % ks, ci = (widx / (ks * ks)) % cin, co = widx / (ks * ks * cin);
    int dh = kh - ks / 2, dw_ = kw - ks / 2; // input offset of this tap from the output position
    int owFirst = max(0, -dw_), owEnd = min(wd, wd - dw_);
    float sum = 0.0f;
    for (int row = get_local_id(0); row < batch * h; row += REDUCE_GROUP)
    {
        int b = row / h, oh = row % h, ih = oh + dh;
        if (ih < 0 || ih >= h)
            continue;
        int xr = xo + ((b * cin + ci) * h + ih) * wd + dw_; // x of output column ow is x[xr + ow]
        int dyr = dyo + ((b * cout + co) * h + oh) * wd;
        for (int ow = owFirst; ow < owEnd; ow++)
            sum += x[xr + ow] * dy[dyr + ow];
    }
    sum = group_sum(sum, scratch);
    if (get_local_id(0) == 0)
        dw[dwo + widx] = sum;
}

// x [planes, h, w] to y [planes, h/2, w/2]: the first maximum of each window in row-major order (strict '>'),
// and a NaN is taken, as the reference. argMax holds the position within the plane.
__kernel void maxpool2d_forward(__global const float* x, int xo, __global float* y, int yo, __global int* argMax,
                                int planes, int h, int wd)
{
    int oh_count = h / 2, ow_count = wd / 2;
    int idx = get_global_id(0);
    if (idx >= planes * oh_count * ow_count)
        return;
    int ow = idx % ow_count, oh = (idx / ow_count) % oh_count, p = idx / (ow_count * oh_count);
    __global const float* plane = x + xo + p * h * wd;
    int best = 2 * oh * wd + 2 * ow;
    float bestValue = plane[best];
    for (int dh = 0; dh < 2; dh++)
        for (int dw = 0; dw < 2; dw++)
        {
            int at = (2 * oh + dh) * wd + 2 * ow + dw;
            float v = plane[at];
            if (v > bestValue || isnan(v))
            {
                best = at;
                bestValue = v;
            }
        }
    y[yo + idx] = bestValue;
    argMax[idx] = best;
}

// dx: one work-item per input element; it takes its window's gradient if it was the window's arg-max, else 0
// (also for the row and column the floor drops).
__kernel void maxpool2d_backward(__global const float* dy, int dyo, __global const int* argMax, __global float* dx, int dxo,
                                 int planes, int h, int wd)
{
    int oh_count = h / 2, ow_count = wd / 2;
    int idx = get_global_id(0);
    if (idx >= planes * h * wd)
        return;
    int iw = idx % wd, ih = (idx / wd) % h, p = idx / (wd * h);
    int oh = ih / 2, ow = iw / 2;
    float g = 0.0f;
    if (oh < oh_count && ow < ow_count)
    {
        int j = (p * oh_count + oh) * ow_count + ow;
        if (argMax[j] == ih * wd + iw)
            g = dy[dyo + j];
    }
    dx[dxo + idx] = g;
}
