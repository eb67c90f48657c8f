// torch.optim's update rules, one thread per parameter, in the reference backend's order of operations. Parameters
// and state are stored in float32; the update is computed in double (it is memory-bound, so this costs nothing), as
// the contract asks, and the host passes its scalars (bias corrections, 1 - beta) in double.
//
// Each rule is one __device__ function of element i, launched two ways: over one tensor (the *_step kernels, a grid-stride
// loop over n), and over a list of tensors in one launch (the *_step_tensors kernels, as apex's multi_tensor_apply):
// tensors [count] describes each tensor, and block b updates elements [chunk * TENSOR_CHUNK, + TENSOR_CHUNK) of tensor
// blockTensor[b], chunk = b - tensors[blockTensor[b]].firstBlock. Both tables are written by the host
// (CudaBackend.Optimizers.cs) once for a list of buffers and reused while the same list comes back.
#include "common.cuh"

#define TENSOR_CHUNK 1024 // elements per block of a *_step_tensors launch (CudaBackend.TensorChunk)

// One tensor of a list, as the host writes it: seven 8-byte words.
struct OptimizerTensor
{
    float* param;
    const float* grad;
    float* state[3]; // the optimizer's state in OptimizerSettings.StateNames order; unused ones are null
    long long n;
    long long firstBlock; // the first block of the launch that updates this tensor
};

// Runs the statement update for every element i of this block's chunk of its tensor t (update names both).
#define FOR_TENSOR_CHUNK(tensors, blockTensor, update)                                                   \
    const OptimizerTensor t = tensors[blockTensor[blockIdx.x]];                                            \
    const long long begin = (blockIdx.x - t.firstBlock) * (long long)TENSOR_CHUNK;                         \
    const long long end = begin + TENSOR_CHUNK < t.n ? begin + TENSOR_CHUNK : t.n;                          \
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x)                                     \
        update

__device__ __forceinline__ void sgd_update(float* param, const float* grad, float* momentumBuffer, long long i, double lr,
                                           double weightDecay, int useMomentum, double momentum, double oneMinusDampening,
                                           int nesterov, int firstStep)
{
    double g = grad[i] + weightDecay * param[i];
    if (useMomentum)
    {
        // PyTorch starts the buffer as a copy of the first gradient, undamped.
        double buf = firstStep ? g : momentum * momentumBuffer[i] + oneMinusDampening * g;
        momentumBuffer[i] = (float)buf;
        g = nesterov ? g + momentum * buf : buf;
    }
    param[i] = (float)(param[i] - lr * g);
}

extern "C" __global__ void sgd_step(float* param, const float* grad, float* momentumBuffer, long long n, double lr,
                                    double weightDecay, int useMomentum, double momentum, double oneMinusDampening,
                                    int nesterov, int firstStep)
{
    GRID_STRIDE(i, n)
        sgd_update(param, grad, momentumBuffer, i, lr, weightDecay, useMomentum, momentum, oneMinusDampening, nesterov, firstStep);
}

extern "C" __global__ void sgd_step_tensors(const OptimizerTensor* tensors, const int* blockTensor, double lr, double weightDecay,
                                            int useMomentum, double momentum, double oneMinusDampening, int nesterov, int firstStep)
{
    FOR_TENSOR_CHUNK(tensors, blockTensor,
                     sgd_update(t.param, t.grad, t.state[0], i, lr, weightDecay, useMomentum, momentum, oneMinusDampening, nesterov, firstStep));
}

// Adam adds the weight decay to the gradient; AdamW (decoupled) multiplies the weight by decayFactor = 1 - lr * weightDecay.
__device__ __forceinline__ void adam_update(float* param, const float* grad, float* expAvg, float* expAvgSq, long long i,
                                            int decoupled, double weightDecay, double decayFactor, double beta1, double oneMinusBeta1,
                                            double beta2, double oneMinusBeta2, double stepSize, double biasCorrection2Sqrt, double eps)
{
    double p = param[i], g = grad[i];
    if (decoupled)
        p *= decayFactor;
    else
        g += weightDecay * p;
    double m = beta1 * expAvg[i] + oneMinusBeta1 * g;
    double v = beta2 * expAvgSq[i] + oneMinusBeta2 * g * g;
    expAvg[i] = (float)m;
    expAvgSq[i] = (float)v;
    param[i] = (float)(p - stepSize * m / (sqrt(v) / biasCorrection2Sqrt + eps));
}

extern "C" __global__ void adam_step(float* param, const float* grad, float* expAvg, float* expAvgSq, long long n,
                                     int decoupled, double weightDecay, double decayFactor, double beta1, double oneMinusBeta1,
                                     double beta2, double oneMinusBeta2, double stepSize, double biasCorrection2Sqrt, double eps)
{
    GRID_STRIDE(i, n)
        adam_update(param, grad, expAvg, expAvgSq, i, decoupled, weightDecay, decayFactor, beta1, oneMinusBeta1, beta2, oneMinusBeta2,
                    stepSize, biasCorrection2Sqrt, eps);
}

extern "C" __global__ void adam_step_tensors(const OptimizerTensor* tensors, const int* blockTensor, int decoupled, double weightDecay,
                                             double decayFactor, double beta1, double oneMinusBeta1, double beta2, double oneMinusBeta2,
                                             double stepSize, double biasCorrection2Sqrt, double eps)
{
    FOR_TENSOR_CHUNK(tensors, blockTensor,
                     adam_update(t.param, t.grad, t.state[0], t.state[1], i, decoupled, weightDecay, decayFactor, beta1, oneMinusBeta1,
                                 beta2, oneMinusBeta2, stepSize, biasCorrection2Sqrt, eps));
}

__device__ __forceinline__ void rmsprop_update(float* param, const float* grad, float* squareAvg, float* momentumBuffer, float* gradAvg,
                                               long long i, double lr, double alpha, double oneMinusAlpha, double eps, double weightDecay,
                                               int useMomentum, double momentum, int centered)
{
    double g = grad[i] + weightDecay * param[i];
    double sq = alpha * squareAvg[i] + oneMinusAlpha * g * g;
    squareAvg[i] = (float)sq;
    double avg;
    if (centered)
    {
        double ga = alpha * gradAvg[i] + oneMinusAlpha * g;
        gradAvg[i] = (float)ga;
        avg = sqrt(sq - ga * ga) + eps;
    }
    else
    {
        avg = sqrt(sq) + eps;
    }
    if (useMomentum)
    {
        double buf = momentum * momentumBuffer[i] + g / avg;
        momentumBuffer[i] = (float)buf;
        param[i] = (float)(param[i] - lr * buf);
    }
    else
    {
        param[i] = (float)(param[i] - lr * g / avg);
    }
}

extern "C" __global__ void rmsprop_step(float* param, const float* grad, float* squareAvg, float* momentumBuffer, float* gradAvg,
                                        long long n, double lr, double alpha, double oneMinusAlpha, double eps, double weightDecay,
                                        int useMomentum, double momentum, int centered)
{
    GRID_STRIDE(i, n)
        rmsprop_update(param, grad, squareAvg, momentumBuffer, gradAvg, i, lr, alpha, oneMinusAlpha, eps, weightDecay, useMomentum, momentum,
                       centered);
}

extern "C" __global__ void rmsprop_step_tensors(const OptimizerTensor* tensors, const int* blockTensor, double lr, double alpha,
                                                double oneMinusAlpha, double eps, double weightDecay, int useMomentum, double momentum,
                                                int centered)
{
    FOR_TENSOR_CHUNK(tensors, blockTensor,
                     rmsprop_update(t.param, t.grad, t.state[0], t.state[1], t.state[2], i, lr, alpha, oneMinusAlpha, eps, weightDecay,
                                    useMomentum, momentum, centered));
}

// clr = lr / (1 + (step - 1) * lrDecay), from the host.
__device__ __forceinline__ void adagrad_update(float* param, const float* grad, float* stateSum, long long i, double clr, double eps,
                                               double weightDecay)
{
    double g = grad[i] + weightDecay * param[i];
    double sum = stateSum[i] + g * g;
    stateSum[i] = (float)sum;
    param[i] = (float)(param[i] - clr * g / (sqrt(sum) + eps));
}

extern "C" __global__ void adagrad_step(float* param, const float* grad, float* stateSum, long long n, double clr, double eps, double weightDecay)
{
    GRID_STRIDE(i, n)
        adagrad_update(param, grad, stateSum, i, clr, eps, weightDecay);
}

extern "C" __global__ void adagrad_step_tensors(const OptimizerTensor* tensors, const int* blockTensor, double clr, double eps, double weightDecay)
{
    FOR_TENSOR_CHUNK(tensors, blockTensor, adagrad_update(t.param, t.grad, t.state[0], i, clr, eps, weightDecay));
}
