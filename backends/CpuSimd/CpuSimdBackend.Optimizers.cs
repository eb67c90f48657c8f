using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

// torch.optim's update rules, each one fused pass over the parameter, its gradient and its state, in float64
// arithmetic (see IUpdateOperator) in the reference's order of operations.
public sealed unsafe partial class CpuSimdBackend
{
    protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer) =>
        Update(new SgdUpdate(s, step), param, grad, momentumBuffer, null, null);

    protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq) =>
        Update(new AdamUpdate(s, step), param, grad, expAvg, expAvgSq, null);

    protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg) =>
        Update(new RmsPropUpdate(s), param, grad, squareAvg, momentumBuffer, gradAvg);

    protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum) =>
        Update(new AdagradUpdate(s, step), param, grad, stateSum, null, null);

    private void Update<TOp>(TOp op, DeviceView param, DeviceView grad, DeviceView? s0, DeviceView? s1, DeviceView? s2)
        where TOp : struct, IUpdateOperator =>
        ParallelFor(new UpdateBody<TOp>(op, Ptr(param), Ptr(grad), s0 is { } a ? Ptr(a) : null, s1 is { } b ? Ptr(b) : null, s2 is { } c ? Ptr(c) : null),
            param.Length, ElementGrain);

    private readonly struct UpdateBody<TOp>(TOp op, float* p, float* g, float* s0, float* s1, float* s2) : IRangeBody
        where TOp : struct, IUpdateOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(long start, long end) =>
            Elementwise.Update(op, p + start, g + start, s0 + start, s1 + start, s2 + start, (nint)(end - start));
    }

    /// <summary>SGD with momentum, dampening and Nesterov; the buffer starts as a copy of the first gradient, undamped. s0 = momentum buffer.</summary>
    private readonly struct SgdUpdate(OptimizerSettings s, int step) : IUpdateOperator
    {
        private readonly double _lr = s.LearningRate, _decay = s.WeightDecay, _momentum = s.Momentum, _undamped = 1 - s.Dampening;
        private readonly bool _useMomentum = s.Momentum != 0, _first = step == 1, _nesterov = s.Nesterov;

        public static int States => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref double p, double g, ref double buf, ref double s1, ref double s2)
        {
            g += _decay * p;
            if (_useMomentum)
            {
                buf = _first ? g : _momentum * buf + _undamped * g;
                g = _nesterov ? g + _momentum * buf : buf;
            }
            p -= _lr * g;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector128<double> p, Vector128<double> g, ref Vector128<double> buf, ref Vector128<double> s1, ref Vector128<double> s2)
        {
            g += Vector128.Create(_decay) * p;
            if (_useMomentum)
            {
                buf = _first ? g : Vector128.Create(_momentum) * buf + Vector128.Create(_undamped) * g;
                g = _nesterov ? g + Vector128.Create(_momentum) * buf : buf;
            }
            p -= Vector128.Create(_lr) * g;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector256<double> p, Vector256<double> g, ref Vector256<double> buf, ref Vector256<double> s1, ref Vector256<double> s2)
        {
            g += Vector256.Create(_decay) * p;
            if (_useMomentum)
            {
                buf = _first ? g : Vector256.Create(_momentum) * buf + Vector256.Create(_undamped) * g;
                g = _nesterov ? g + Vector256.Create(_momentum) * buf : buf;
            }
            p -= Vector256.Create(_lr) * g;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector512<double> p, Vector512<double> g, ref Vector512<double> buf, ref Vector512<double> s1, ref Vector512<double> s2)
        {
            g += Vector512.Create(_decay) * p;
            if (_useMomentum)
            {
                buf = _first ? g : Vector512.Create(_momentum) * buf + Vector512.Create(_undamped) * g;
                g = _nesterov ? g + Vector512.Create(_momentum) * buf : buf;
            }
            p -= Vector512.Create(_lr) * g;
        }
    }

    /// <summary>Adam (L2 decay added to the gradient) and AdamW (decoupled: the weight decays itself). s0 = exp_avg, s1 = exp_avg_sq.</summary>
    private readonly struct AdamUpdate : IUpdateOperator
    {
        private readonly double _decayFactor, _l2, _beta1, _oneMinusBeta1, _beta2, _oneMinusBeta2, _stepSize, _bc2Sqrt, _eps;

        public AdamUpdate(OptimizerSettings s, int step)
        {
            bool decoupled = s.Kind == OptimizerKind.AdamW;
            _decayFactor = decoupled ? 1 - s.LearningRate * s.WeightDecay : 1;
            _l2 = decoupled ? 0 : s.WeightDecay;
            (_beta1, _oneMinusBeta1, _beta2, _oneMinusBeta2) = (s.Beta1, 1 - s.Beta1, s.Beta2, 1 - s.Beta2);
            _stepSize = s.LearningRate / (1 - Math.Pow(s.Beta1, step));
            _bc2Sqrt = Math.Sqrt(1 - Math.Pow(s.Beta2, step));
            _eps = s.Eps;
        }

        public static int States => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref double p, double g, ref double m, ref double v, ref double s2)
        {
            g += _l2 * p;
            p *= _decayFactor;
            m = _beta1 * m + _oneMinusBeta1 * g;
            v = _beta2 * v + _oneMinusBeta2 * g * g;
            p -= _stepSize * m / (Math.Sqrt(v) / _bc2Sqrt + _eps);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector128<double> p, Vector128<double> g, ref Vector128<double> m, ref Vector128<double> v, ref Vector128<double> s2)
        {
            g += Vector128.Create(_l2) * p;
            p *= Vector128.Create(_decayFactor);
            m = Vector128.Create(_beta1) * m + Vector128.Create(_oneMinusBeta1) * g;
            v = Vector128.Create(_beta2) * v + Vector128.Create(_oneMinusBeta2) * g * g;
            p -= Vector128.Create(_stepSize) * m / (Vector128.Sqrt(v) / Vector128.Create(_bc2Sqrt) + Vector128.Create(_eps));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector256<double> p, Vector256<double> g, ref Vector256<double> m, ref Vector256<double> v, ref Vector256<double> s2)
        {
            g += Vector256.Create(_l2) * p;
            p *= Vector256.Create(_decayFactor);
            m = Vector256.Create(_beta1) * m + Vector256.Create(_oneMinusBeta1) * g;
            v = Vector256.Create(_beta2) * v + Vector256.Create(_oneMinusBeta2) * g * g;
            p -= Vector256.Create(_stepSize) * m / (Vector256.Sqrt(v) / Vector256.Create(_bc2Sqrt) + Vector256.Create(_eps));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector512<double> p, Vector512<double> g, ref Vector512<double> m, ref Vector512<double> v, ref Vector512<double> s2)
        {
            g += Vector512.Create(_l2) * p;
            p *= Vector512.Create(_decayFactor);
            m = Vector512.Create(_beta1) * m + Vector512.Create(_oneMinusBeta1) * g;
            v = Vector512.Create(_beta2) * v + Vector512.Create(_oneMinusBeta2) * g * g;
            p -= Vector512.Create(_stepSize) * m / (Vector512.Sqrt(v) / Vector512.Create(_bc2Sqrt) + Vector512.Create(_eps));
        }
    }

    /// <summary>RMSprop, plain or centered, with or without momentum. s0 = square_avg, s1 = momentum_buffer, s2 = grad_avg.</summary>
    private readonly struct RmsPropUpdate(OptimizerSettings s) : IUpdateOperator
    {
        private readonly double _lr = s.LearningRate, _decay = s.WeightDecay, _alpha = s.Alpha, _oneMinusAlpha = 1 - s.Alpha, _eps = s.Eps, _momentum = s.Momentum;
        private readonly bool _centered = s.Centered, _useMomentum = s.Momentum > 0;

        public static int States => 3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref double p, double g, ref double sq, ref double buf, ref double ga)
        {
            g += _decay * p;
            sq = _alpha * sq + _oneMinusAlpha * g * g;
            double avg;
            if (_centered)
            {
                // Centered: divide by an estimate of the gradient's standard deviation rather than its root mean square.
                ga = _alpha * ga + _oneMinusAlpha * g;
                avg = Math.Sqrt(sq - ga * ga) + _eps;
            }
            else
            {
                avg = Math.Sqrt(sq) + _eps;
            }
            if (_useMomentum)
            {
                buf = _momentum * buf + g / avg;
                p -= _lr * buf;
            }
            else
            {
                p -= _lr * g / avg;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector128<double> p, Vector128<double> g, ref Vector128<double> sq, ref Vector128<double> buf, ref Vector128<double> ga)
        {
            g += Vector128.Create(_decay) * p;
            sq = Vector128.Create(_alpha) * sq + Vector128.Create(_oneMinusAlpha) * g * g;
            Vector128<double> avg;
            if (_centered)
            {
                ga = Vector128.Create(_alpha) * ga + Vector128.Create(_oneMinusAlpha) * g;
                avg = Vector128.Sqrt(sq - ga * ga) + Vector128.Create(_eps);
            }
            else
            {
                avg = Vector128.Sqrt(sq) + Vector128.Create(_eps);
            }
            if (_useMomentum)
            {
                buf = Vector128.Create(_momentum) * buf + g / avg;
                p -= Vector128.Create(_lr) * buf;
            }
            else
            {
                p -= Vector128.Create(_lr) * g / avg;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector256<double> p, Vector256<double> g, ref Vector256<double> sq, ref Vector256<double> buf, ref Vector256<double> ga)
        {
            g += Vector256.Create(_decay) * p;
            sq = Vector256.Create(_alpha) * sq + Vector256.Create(_oneMinusAlpha) * g * g;
            Vector256<double> avg;
            if (_centered)
            {
                ga = Vector256.Create(_alpha) * ga + Vector256.Create(_oneMinusAlpha) * g;
                avg = Vector256.Sqrt(sq - ga * ga) + Vector256.Create(_eps);
            }
            else
            {
                avg = Vector256.Sqrt(sq) + Vector256.Create(_eps);
            }
            if (_useMomentum)
            {
                buf = Vector256.Create(_momentum) * buf + g / avg;
                p -= Vector256.Create(_lr) * buf;
            }
            else
            {
                p -= Vector256.Create(_lr) * g / avg;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector512<double> p, Vector512<double> g, ref Vector512<double> sq, ref Vector512<double> buf, ref Vector512<double> ga)
        {
            g += Vector512.Create(_decay) * p;
            sq = Vector512.Create(_alpha) * sq + Vector512.Create(_oneMinusAlpha) * g * g;
            Vector512<double> avg;
            if (_centered)
            {
                ga = Vector512.Create(_alpha) * ga + Vector512.Create(_oneMinusAlpha) * g;
                avg = Vector512.Sqrt(sq - ga * ga) + Vector512.Create(_eps);
            }
            else
            {
                avg = Vector512.Sqrt(sq) + Vector512.Create(_eps);
            }
            if (_useMomentum)
            {
                buf = Vector512.Create(_momentum) * buf + g / avg;
                p -= Vector512.Create(_lr) * buf;
            }
            else
            {
                p -= Vector512.Create(_lr) * g / avg;
            }
        }
    }

    /// <summary>Adagrad with learning-rate decay; the sum starts where the caller filled it. s0 = sum.</summary>
    private readonly struct AdagradUpdate(OptimizerSettings s, int step) : IUpdateOperator
    {
        private readonly double _clr = s.LearningRate / (1 + (step - 1) * s.LearningRateDecay), _decay = s.WeightDecay, _eps = s.Eps;

        public static int States => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref double p, double g, ref double sum, ref double s1, ref double s2)
        {
            g += _decay * p;
            sum += g * g;
            p -= _clr * g / (Math.Sqrt(sum) + _eps);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector128<double> p, Vector128<double> g, ref Vector128<double> sum, ref Vector128<double> s1, ref Vector128<double> s2)
        {
            g += Vector128.Create(_decay) * p;
            sum += g * g;
            p -= Vector128.Create(_clr) * g / (Vector128.Sqrt(sum) + Vector128.Create(_eps));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector256<double> p, Vector256<double> g, ref Vector256<double> sum, ref Vector256<double> s1, ref Vector256<double> s2)
        {
            g += Vector256.Create(_decay) * p;
            sum += g * g;
            p -= Vector256.Create(_clr) * g / (Vector256.Sqrt(sum) + Vector256.Create(_eps));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke(ref Vector512<double> p, Vector512<double> g, ref Vector512<double> sum, ref Vector512<double> s1, ref Vector512<double> s2)
        {
            g += Vector512.Create(_decay) * p;
            sum += g * g;
            p -= Vector512.Create(_clr) * g / (Vector512.Sqrt(sum) + Vector512.Create(_eps));
        }
    }
}
