// Convolution (stride 1, zero padding K/2, cross-correlation as PyTorch's conv2d) and 2x2 max pooling, over NCHW tensors.
// x [batch, inC, H, W], w [outC, inC, K, K], y [batch, outC, H, W].
#include "common.cuh"

// The three passes of the convolution are GEMMs over an implicit im2col matrix that is never written out: each tile of an
// operand is gathered from x, w or dy as it is loaded into shared memory. With P = H * W pixels per plane and K * K taps:
//   forward          y  [outC, batch*P]      = w  [outC, inC*K*K] . im2col(x)  [inC*K*K, batch*P]
//   backward data    dx [inC, batch*P]       = w' [inC, outC*K*K] . im2col'(dy) [outC*K*K, batch*P]
//                    (w' is w with outC and inC swapped; im2col' takes the taps mirrored: dy at ih - kh + pad)
//   backward weight  dw [outC, inC*K*K]      = dy [outC, batch*P] . im2col(x)^T [batch*P, inC*K*K]
// (the [channels, batch*P] matrices are the NCHW tensors, column b * P + pixel of row c at (b * channels + c) * P + pixel).
// The GEMM's rows are M, its columns N and its reduction the depth. Backward weight reduces over batch*P (thousands) to
// an M x N of a few tiles: the host splits its depth into slices (the grid's y holds the M tile and the slice), each
// block writes its slice's partial tile, and conv2d_backward_weight_slices adds the slices in order.
#define CONV_FORWARD 0
#define CONV_BACKWARD_DATA 1
#define CONV_BACKWARD_WEIGHT 2

// Tiles of CONV_TILE_M x CONV_TILE_N outputs, the depth in steps of CONV_TILE_K; CONV_THREADS threads, 16 x 16, each
// computing CONV_PER_THREAD x CONV_PER_THREAD outputs 16 rows and 16 columns apart (16 FMAs per 8 shared-memory reads,
// the reads conflict-free). 64 and not 128 rows: M is a channel count (16 and 32 in the standard cnn, 64 to 256 in the
// large), so taller tiles would be mostly empty at the standard sizes; 64 x 64 leaves batch*P / 64 blocks (196 and 784 at the standard
// sizes) for 132 SMs, and the two tiles (2 x 16 x 65 floats, 8.3 KB) leave shared memory for several blocks an SM. A
// depth step of 16 is a 64-byte run of a row of w or of dy, two whole 32-byte sectors. Each thread reads its share of
// the next step's tiles into registers before it multiplies the current one, so the loads' latency hides behind the
// FMAs without cp.async (not in compute_70, which a published build ships).
#define CONV_TILE_M 64
#define CONV_TILE_N 64
#define CONV_TILE_K 16
#define CONV_THREADS 256 // the host launches blocks of CONV_THREADS threads (one-dimensional)
#define CONV_PER_THREAD 4 // CONV_TILE_M * CONV_TILE_K = CONV_TILE_K * CONV_TILE_N = CONV_THREADS * CONV_PER_THREAD: 4 loads each a step
#define CONV_THREADS_X 16 // CONV_TILE_N / CONV_PER_THREAD

// The tile of outputs of block (blockIdx.x: columns, blockIdx.y: rows + slice * tiles of rows), the depth in
// [slice * depthPerSlice, that + depthPerSlice) of the pass's GEMM. PASS is CONV_FORWARD (a = w, b = x, c = y, and
// bias [outC] added to row co as y is written, so that the forward with its bias is one pass over y), CONV_BACKWARD_DATA
// (a = w, b = dy, c = dx) or CONV_BACKWARD_WEIGHT (a = dy, b = x, c = the slice's [outC, inC*K*K] of the partial sums
// [slices, outC, inC*K*K], or dw itself when there is one slice); the backward passes take no bias (a null pointer).
template <int PASS>
__device__ __forceinline__ void conv_gemm(const float* a, const float* b, const float* bias, float* c, int batch, int inC,
                                          int outC, int height, int width, int K, long long depthPerSlice)
{
    __shared__ float tileA[CONV_TILE_K][CONV_TILE_M + 1]; // tileA[p][i] = A[row0 + i, k0 + p]; the +1 spreads the stores over banks
    __shared__ float tileB[CONV_TILE_K][CONV_TILE_N + 1]; // tileB[p][j] = B[k0 + p, col0 + j]
    const bool weightPass = PASS == CONV_BACKWARD_WEIGHT;
    const int pad = K / 2, taps = K * K, tid = threadIdx.x;
    const long long plane = (long long)height * width, pixels = batch * plane;
    const int m = PASS == CONV_BACKWARD_DATA ? inC : outC;
    const long long n = weightPass ? (long long)inC * taps : pixels;
    const int spatialChannels = PASS == CONV_FORWARD ? inC : outC; // the channels of b in the forward and backward data
    const long long depth = weightPass ? pixels : (long long)spatialChannels * taps;
    const int tilesM = (m + CONV_TILE_M - 1) / CONV_TILE_M;
    const int row0 = blockIdx.y % tilesM * CONV_TILE_M;
    const long long slice = blockIdx.y / tilesM, col0 = (long long)blockIdx.x * CONV_TILE_N;
    const long long depthBegin = slice * depthPerSlice;
    const long long depthEnd = depth < depthBegin + depthPerSlice ? depth : depthBegin + depthPerSlice;

    // Which elements of the tiles this thread loads. Of A, always rows aRow + 16 r at depth aDepth: consecutive threads
    // read along the depth, which is contiguous in w and in dy. Of B, consecutive threads read along whatever is
    // contiguous in memory: the pixels (columns) in the forward and backward data, the pixels (depth) in backward weight.
    const int aDepth = tid % CONV_TILE_K, aRow = tid / CONV_TILE_K;
    const int bColumn = weightPass ? tid / CONV_TILE_K : tid % CONV_TILE_N;
    const int bDepth = weightPass ? tid % CONV_TILE_K : tid / CONV_TILE_N;
    const int bColumnStep = weightPass ? CONV_THREADS / CONV_TILE_K : 0, bDepthStep = weightPass ? 0 : CONV_THREADS / CONV_TILE_N;

    // The fixed part of each B element's address. Forward and backward data: the thread's one column is a pixel (image,
    // oh, ow), and b's element for depth (channel, kh, kw) is spatialBase + channel * P + dh * W + dw. Backward weight: the
    // thread's columns are taps (ci, kh, kw), and b's element for pixel (image, oh, ow) is x[image, ci, oh + dh, ow + dw].
    long long spatialBase = 0;
    int spatialH = 0, spatialW = 0;
    bool spatialColumn = false;
    int tapChannel[CONV_PER_THREAD], tapDh[CONV_PER_THREAD], tapDw[CONV_PER_THREAD];
    if (weightPass)
    {
        for (int r = 0; r < CONV_PER_THREAD; r++)
        {
            long long col = col0 + bColumn + r * bColumnStep;
            int tap = (int)(col % taps);
            // A column past the tile's edge gets a channel past the last, which no pixel is read for.
            tapChannel[r] = col < n ? (int)(col / taps) : inC;
            tapDh[r] = tap / K - pad;
            tapDw[r] = tap % K - pad;
        }
    }
    else
    {
        long long col = col0 + bColumn;
        spatialColumn = col < n;
        if (spatialColumn)
        {
            long long image = col / plane;
            int pixel = (int)(col - image * plane);
            spatialH = pixel / width;
            spatialW = pixel % width;
            spatialBase = image * spatialChannels * plane + pixel;
        }
    }

    const int tx = tid % CONV_THREADS_X, ty = tid / CONV_THREADS_X;
    float sum[CONV_PER_THREAD][CONV_PER_THREAD];
    for (int r = 0; r < CONV_PER_THREAD; r++)
        for (int s = 0; s < CONV_PER_THREAD; s++)
            sum[r][s] = 0.0f;
    // Step k reads the operands of depth step k into registers (0 outside the matrices and the slice, and in the
    // padding) and multiplies those of step k - 1, which it has just stored to shared memory.
    float nextA[CONV_PER_THREAD], nextB[CONV_PER_THREAD];
    const long long steps = depthEnd > depthBegin ? (depthEnd - depthBegin + CONV_TILE_K - 1) / CONV_TILE_K : 0;
    for (long long step = 0; step <= steps; step++)
    {
        if (step > 0)
        {
            for (int r = 0; r < CONV_PER_THREAD; r++)
            {
                tileA[aDepth][aRow + r * (CONV_THREADS / CONV_TILE_K)] = nextA[r];
                tileB[bDepth + r * bDepthStep][bColumn + r * bColumnStep] = nextB[r];
            }
            __syncthreads();
        }
        const long long k0 = depthBegin + step * CONV_TILE_K;
        if (step < steps && weightPass)
        {
            long long q = k0 + aDepth; // the pixel of A's and B's elements: aDepth == bDepth
            bool inDepth = q < depthEnd;
            long long image = inDepth ? q / plane : 0;
            int pixel = inDepth ? (int)(q - image * plane) : 0, oh = pixel / width, ow = pixel % width;
            for (int r = 0; r < CONV_PER_THREAD; r++)
            {
                int co = row0 + aRow + r * (CONV_THREADS / CONV_TILE_K);
                nextA[r] = inDepth && co < m ? a[(image * outC + co) * plane + pixel] : 0.0f;
                int ih = oh + tapDh[r], iw = ow + tapDw[r];
                nextB[r] = inDepth && tapChannel[r] < inC && ih >= 0 && ih < height && iw >= 0 && iw < width
                    ? b[(image * inC + tapChannel[r]) * plane + (long long)ih * width + iw] : 0.0f;
            }
        }
        else if (step < steps)
        {
            long long p = k0 + aDepth;
            int channel = (int)(p / taps), tap = (int)(p % taps);
            for (int r = 0; r < CONV_PER_THREAD; r++)
            {
                int row = row0 + aRow + r * (CONV_THREADS / CONV_TILE_K);
                bool inside = p < depthEnd && row < m;
                nextA[r] = !inside ? 0.0f
                    : PASS == CONV_FORWARD ? a[row * depth + p]
                    : a[((long long)channel * inC + row) * taps + tap];
            }
            for (int r = 0; r < CONV_PER_THREAD; r++)
            {
                long long q = k0 + bDepth + r * bDepthStep;
                int qChannel = (int)(q / taps), qTap = (int)(q % taps);
                // Forward: x at (oh + kh - pad, ow + kw - pad); backward data: dy at (ih - kh + pad, iw - kw + pad).
                int dh = PASS == CONV_FORWARD ? qTap / K - pad : pad - qTap / K;
                int dw = PASS == CONV_FORWARD ? qTap % K - pad : pad - qTap % K;
                int ih = spatialH + dh, iw = spatialW + dw;
                nextB[r] = spatialColumn && q < depthEnd && ih >= 0 && ih < height && iw >= 0 && iw < width
                    ? b[spatialBase + qChannel * plane + (long long)dh * width + dw] : 0.0f;
            }
        }
        if (step > 0)
        {
            for (int p = 0; p < CONV_TILE_K; p++)
            {
                float ra[CONV_PER_THREAD], rb[CONV_PER_THREAD];
                for (int r = 0; r < CONV_PER_THREAD; r++)
                    ra[r] = tileA[p][ty + r * (CONV_TILE_M / CONV_PER_THREAD)];
                for (int s = 0; s < CONV_PER_THREAD; s++)
                    rb[s] = tileB[p][tx + s * CONV_THREADS_X];
                for (int r = 0; r < CONV_PER_THREAD; r++)
                    for (int s = 0; s < CONV_PER_THREAD; s++)
                        sum[r][s] += ra[r] * rb[s];
            }
            __syncthreads();
        }
    }

    for (int s = 0; s < CONV_PER_THREAD; s++)
    {
        long long col = col0 + tx + s * CONV_THREADS_X;
        if (col >= n)
            continue;
        // The row's element of column col: dw's (or the slice's) [M, N] as it is; y and dx as [batch, M, P].
        long long image = weightPass ? 0 : col / plane;
        long long base = weightPass ? slice * m * n + col : image * m * plane + (col - image * plane);
        long long rowStride = weightPass ? n : plane;
        for (int r = 0; r < CONV_PER_THREAD; r++)
        {
            int row = row0 + ty + r * (CONV_TILE_M / CONV_PER_THREAD);
            if (row < m)
                c[base + row * rowStride] = PASS == CONV_FORWARD ? sum[r][s] + bias[row] : sum[r][s];
        }
    }
}

// y[b, co, oh, ow] = bias[co] + sum over ci, kh, kw of w[co, ci, kh, kw] * x[b, ci, oh + kh - pad, ow + kw - pad], bias [outC].
// Grid: (ceil(batch * H * W / CONV_TILE_N), ceil(outC / CONV_TILE_M)).
extern "C" __global__ void conv2d_forward(const float* x, const float* w, const float* bias, float* y,
                                          int batch, int inC, int outC, int height, int width, int K)
{
    conv_gemm<CONV_FORWARD>(w, x, bias, y, batch, inC, outC, height, width, K, (long long)inC * K * K);
}

// dx[b, ci, ih, iw] = sum over co, kh, kw of dy[b, co, ih - kh + pad, iw - kw + pad] * w[co, ci, kh, kw].
// Grid: (ceil(batch * H * W / CONV_TILE_N), ceil(inC / CONV_TILE_M)).
extern "C" __global__ void conv2d_backward_data(const float* dy, const float* w, float* dx,
                                                int batch, int inC, int outC, int height, int width, int K)
{
    conv_gemm<CONV_BACKWARD_DATA>(w, dy, 0, dx, batch, inC, outC, height, width, K, (long long)outC * K * K);
}

// dw[co, ci, kh, kw] = sum over b, oh, ow of dy[b, co, oh, ow] * x[b, ci, oh + kh - pad, ow + kw - pad], the pixels b * H * W
// + oh * W + ow in slices of pixelsPerSlice (a multiple of CONV_TILE_K): partial [slices, outC, inC * K * K], or dw with one
// slice. Grid: (ceil(inC * K * K / CONV_TILE_N), ceil(outC / CONV_TILE_M) * slices).
extern "C" __global__ void conv2d_backward_weight(const float* x, const float* dy, float* partial,
                                                  int batch, int inC, int outC, int height, int width, int K, long long pixelsPerSlice)
{
    conv_gemm<CONV_BACKWARD_WEIGHT>(dy, x, 0, partial, batch, inC, outC, height, width, K, pixelsPerSlice);
}

// dw[e] = the sum of partial[s, e] over the slices s = 0, 1, ... in order, for partial [slices, n]. One thread per element.
extern "C" __global__ void conv2d_backward_weight_slices(const float* partial, float* dw, int slices, long long n)
{
    GRID_STRIDE(e, n)
    {
        float sum = 0.0f;
        for (int s = 0; s < slices; s++)
            sum += partial[s * n + e];
        dw[e] = sum;
    }
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
