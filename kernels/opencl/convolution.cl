// Conv2d (stride 1, zero padding K/2, NCHW) and 2x2 max pooling. x [batch, cin, h, w], w [cout, cin, K, K],
// y [batch, cout, h, w]. Each output element is written by exactly one work-item, so no clearing is needed.

// y: one work-item per output element.
__kernel void conv2d_forward(__global const float* x, int xo, __global const float* w, int wo, __global float* y, int yo,
                             int batch, int cin, int cout, int h, int wd, int ks)
{
    int idx = get_global_id(0);
    if (idx >= batch * cout * h * wd)
        return;
    int ow = idx % wd, oh = (idx / wd) % h, co = (idx / (wd * h)) % cout, b = idx / (wd * h * cout);
    int pad = ks / 2;
    float sum = 0.0f;
    for (int ci = 0; ci < cin; ci++)
        for (int kh = 0; kh < ks; kh++)
        {
            int ih = oh + kh - pad;
            if (ih < 0 || ih >= h)
                continue;
            for (int kw = 0; kw < ks; kw++)
            {
                int iw = ow + kw - pad;
                if (iw >= 0 && iw < wd)
                    sum += x[xo + ((b * cin + ci) * h + ih) * wd + iw] * w[wo + ((co * cin + ci) * ks + kh) * ks + kw];
            }
        }
    y[yo + idx] = sum;
}

// dx: one work-item per input element, gathering from the outputs its taps reach.
__kernel void conv2d_backward_data(__global const float* dy, int dyo, __global const float* w, int wo, __global float* dx, int dxo,
                                   int batch, int cin, int cout, int h, int wd, int ks)
{
    int idx = get_global_id(0);
    if (idx >= batch * cin * h * wd)
        return;
    int iw = idx % wd, ih = (idx / wd) % h, ci = (idx / (wd * h)) % cin, b = idx / (wd * h * cin);
    int pad = ks / 2;
    float sum = 0.0f;
    for (int co = 0; co < cout; co++)
        for (int kh = 0; kh < ks; kh++)
        {
            int oh = ih - kh + pad;
            if (oh < 0 || oh >= h)
                continue;
            for (int kw = 0; kw < ks; kw++)
            {
                int ow = iw - kw + pad;
                if (ow >= 0 && ow < wd)
                    sum += dy[dyo + ((b * cout + co) * h + oh) * wd + ow] * w[wo + ((co * cin + ci) * ks + kh) * ks + kw];
            }
        }
    dx[dxo + idx] = sum;
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
