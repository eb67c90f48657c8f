using KernelLab.Backends;
using KernelLab.Backends.Reference;

namespace KernelLab.Tests;

/// <summary>
/// Two steps of each optimizer on two elements, worked out by hand from torch.optim's update rules. The second
/// element often starts at 0 with zero gradients: it must stay exactly 0 (eps keeps 0/0 away).
/// </summary>
public sealed class ReferenceOptimizerTests
{
    private static readonly double[][] Grads = [[0.5, 0.25], [-0.5, 1]];

    private readonly ReferenceBackend _r = new();

    [Fact]
    public void SgdWithoutMomentum()
    {
        var s = new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 0.1, WeightDecay = 0.1 };
        var (param, state) = Run(s, [1, -2], Grads);

        // p -= 0.1 (g + 0.1 p): 1 - 0.1 * 0.6 = 0.94, then 0.94 - 0.1 * (-0.5 + 0.094) = 0.9806;
        // -2 - 0.1 * 0.05 = -2.005, then -2.005 - 0.1 * (1 - 0.2005) = -2.08495. The buffer is never touched.
        TensorAssert.Close("param", [0.9806, -2.08495], param);
        TensorAssert.Close("momentum_buffer", [0, 0], state[0]);
    }

    [Fact]
    public void SgdWithMomentumDampeningAndWeightDecay()
    {
        var s = new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 0.1, Momentum = 0.9, Dampening = 0.1, WeightDecay = 0.1 };
        var (param, state) = Run(s, [1, -2], Grads);

        // Element 0. Step 1: g = 0.5 + 0.1 * 1 = 0.6; buf = g (the first step copies, undamped); p = 1 - 0.06 = 0.94.
        // Step 2: g = -0.5 + 0.094 = -0.406; buf = 0.9 * 0.6 + 0.9 * -0.406 = 0.1746; p = 0.94 - 0.01746 = 0.92254.
        // Element 1. Step 1: g = 0.25 - 0.2 = 0.05; buf = 0.05; p = -2.005.
        // Step 2: g = 1 - 0.2005 = 0.7995; buf = 0.045 + 0.9 * 0.7995 = 0.76455; p = -2.005 - 0.076455 = -2.081455.
        TensorAssert.Close("param", [0.92254, -2.081455], param);
        TensorAssert.Close("momentum_buffer", [0.1746, 0.76455], state[0]);
    }

    [Fact]
    public void SgdWithNesterovMomentum()
    {
        var s = new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 0.1, Momentum = 0.9, Nesterov = true };
        var (param, state) = Run(s, [1, -2], Grads);

        // Element 0. Step 1: buf = 0.5; p -= 0.1 * (0.5 + 0.9 * 0.5) -> 0.905.
        // Step 2: buf = 0.45 - 0.5 = -0.05; p -= 0.1 * (-0.5 + 0.9 * -0.05) -> 0.9595.
        // Element 1. Step 1: buf = 0.25; p -= 0.1 * 0.475 -> -2.0475. Step 2: buf = 0.225 + 1 = 1.225; p -= 0.1 * 2.1025 -> -2.25775.
        TensorAssert.Close("param", [0.9595, -2.25775], param);
        TensorAssert.Close("momentum_buffer", [-0.05, 1.225], state[0]);
    }

    [Fact]
    public void AdamAddsWeightDecayToTheGradient()
    {
        var s = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 0.1, WeightDecay = 0.1 };
        var (param, state) = Run(s, [1, 0], [[0.5, 0], [-0.5, 0]]);

        // Step 1: g = 0.5 + 0.1 * 1 = 0.6; m = 0.1 * 0.6 = 0.06; v = 0.001 * 0.36; bias corrections 1 - 0.9 and 1 - 0.999.
        double p1 = 1 - 0.1 / 0.1 * 0.06 / (Math.Sqrt(0.00036) / Math.Sqrt(0.001) + 1e-8);
        // Step 2: bias corrections 1 - 0.81 and 1 - 0.998001.
        double g2 = -0.5 + 0.1 * p1;
        double m2 = 0.9 * 0.06 + 0.1 * g2, v2 = 0.999 * 0.00036 + 0.001 * g2 * g2;
        double p2 = p1 - 0.1 / 0.19 * m2 / (Math.Sqrt(v2) / Math.Sqrt(0.001999) + 1e-8);
        TensorAssert.Close("param", [p2, 0], param);
        TensorAssert.Close("exp_avg", [m2, 0], state[0]);
        TensorAssert.Close("exp_avg_sq", [v2, 0], state[1]);
    }

    [Fact]
    public void AdamWDecaysTheWeightBeforeTheUpdate()
    {
        var s = new OptimizerSettings { Kind = OptimizerKind.AdamW, LearningRate = 0.1, WeightDecay = 0.5 };
        var (param, state) = Run(s, [1, 2], [[0.5, 0], [-0.5, 0]]);

        // Step 1: p = 1 * (1 - 0.1 * 0.5) = 0.95 first; then m = 0.05, v = 0.001 * 0.25 from the raw gradient.
        double p1 = 0.95 - 0.1 / 0.1 * 0.05 / (Math.Sqrt(0.00025) / Math.Sqrt(0.001) + 1e-8);
        // Step 2: p1 * 0.95; m = 0.9 * 0.05 + 0.1 * -0.5; v = 0.999 * 0.00025 + 0.001 * 0.25.
        double m2 = -0.005, v2 = 0.999 * 0.00025 + 0.00025;
        double p2 = p1 * 0.95 - 0.1 / 0.19 * m2 / (Math.Sqrt(v2) / Math.Sqrt(0.001999) + 1e-8);
        // Element 1 has no gradient: it only decays, 2 * 0.95 * 0.95.
        TensorAssert.Close("param", [p2, 1.805], param);
        TensorAssert.Close("exp_avg", [m2, 0], state[0]);
        TensorAssert.Close("exp_avg_sq", [v2, 0], state[1]);
    }

    [Fact]
    public void RmsPropWithWeightDecay()
    {
        var s = new OptimizerSettings { Kind = OptimizerKind.RmsProp, LearningRate = 0.01, WeightDecay = 0.1 };
        var (param, state) = Run(s, [1, 0], [[0.5, 0], [-0.5, 0]]);

        // Step 1: g = 0.6; square_avg = 0.01 * 0.36; p -= 0.01 g / (sqrt(square_avg) + eps).
        double p1 = 1 - 0.01 * 0.6 / (Math.Sqrt(0.0036) + 1e-8);
        double g2 = -0.5 + 0.1 * p1, sq2 = 0.99 * 0.0036 + 0.01 * g2 * g2;
        double p2 = p1 - 0.01 * g2 / (Math.Sqrt(sq2) + 1e-8);
        TensorAssert.Close("param", [p2, 0], param);
        TensorAssert.Close("square_avg", [sq2, 0], state[0]);
        TensorAssert.Close("momentum_buffer", [0, 0], state[1]);
        TensorAssert.Close("grad_avg", [0, 0], state[2]);
    }

    [Fact]
    public void RmsPropCenteredWithMomentum()
    {
        var s = new OptimizerSettings { Kind = OptimizerKind.RmsProp, LearningRate = 0.01, Alpha = 0.9, Momentum = 0.5, Centered = true };
        var (param, state) = Run(s, [1, 0], [[0.5, 0], [-0.5, 0]]);

        // Step 1: square_avg = 0.1 * 0.25 = 0.025; grad_avg = 0.05; avg = sqrt(0.025 - 0.05^2) + eps; buf = g / avg.
        double buf1 = 0.5 / (Math.Sqrt(0.0225) + 1e-8), p1 = 1 - 0.01 * buf1;
        // Step 2: square_avg = 0.0225 + 0.025 = 0.0475; grad_avg = 0.045 - 0.05 = -0.005.
        double buf2 = 0.5 * buf1 - 0.5 / (Math.Sqrt(0.0475 - 0.000025) + 1e-8), p2 = p1 - 0.01 * buf2;
        TensorAssert.Close("param", [p2, 0], param);
        TensorAssert.Close("square_avg", [0.0475, 0], state[0]);
        TensorAssert.Close("momentum_buffer", [buf2, 0], state[1]);
        TensorAssert.Close("grad_avg", [-0.005, 0], state[2]);
    }

    [Fact]
    public void AdagradWithLearningRateDecayAndInitialAccumulator()
    {
        var s = new OptimizerSettings
        {
            Kind = OptimizerKind.Adagrad, LearningRate = 0.1, LearningRateDecay = 0.5, WeightDecay = 0.1, Eps = 1e-10, InitialAccumulatorValue = 0.1,
        };
        var (param, state) = Run(s, [1, 0], [[0.5, 0], [-0.5, 0]]);

        // Step 1: clr = 0.1; g = 0.6; sum = 0.1 + 0.36 = 0.46.
        double p1 = 1 - 0.1 * 0.6 / (Math.Sqrt(0.46) + 1e-10);
        // Step 2: clr = 0.1 / (1 + 1 * 0.5).
        double g2 = -0.5 + 0.1 * p1, sum2 = 0.46 + g2 * g2;
        double p2 = p1 - 0.1 / 1.5 * g2 / (Math.Sqrt(sum2) + 1e-10);
        TensorAssert.Close("param", [p2, 0], param);
        TensorAssert.Close("sum", [sum2, 0.1], state[0]);
    }

    [Fact]
    public void StepOverTensorsIsEachTensorsOwnStep()
    {
        // SgdWithMomentumDampeningAndWeightDecay's two elements as two tensors of one element, stepped in one call.
        var s = new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 0.1, Momentum = 0.9, Dampening = 0.1, WeightDecay = 0.1 };
        OptimizerTensor Tensor(double p) => new(_r.Upload([p]), _r.AllocatePoisoned(1), [_r.Upload([0.0])]);
        OptimizerTensor[] tensors = [Tensor(1), Tensor(-2)];
        for (int step = 1; step <= Grads.Length; step++)
        {
            for (int k = 0; k < tensors.Length; k++)
                _r.CopyIn(tensors[k].Grad, [Grads[step - 1][k]]);
            _r.OptimizerStep(s, step, tensors);
        }
        TensorAssert.Close("param", [0.92254, -2.081455], [.. tensors.SelectMany(t => _r.Download(t.Param))]);
        TensorAssert.Close("momentum_buffer", [0.1746, 0.76455], [.. tensors.SelectMany(t => _r.Download(t.State[0]))]);
    }

    [Fact]
    public void StepOverTensorsChecksEveryTensorAsOneStepDoes()
    {
        var adam = OptimizerSettings.Defaults(OptimizerKind.Adam, 1e-3);
        OptimizerTensor Tensor(int n, int gradLength, int states) =>
            new(_r.AllocatePoisoned(n), _r.AllocatePoisoned(gradLength), [.. Enumerable.Range(0, states).Select(_ => (DeviceView)_r.AllocatePoisoned(n))]);
        Assert.Throws<ArgumentOutOfRangeException>(() => _r.OptimizerStep(adam, 0, [Tensor(3, 3, 2)]));
        Assert.Contains("grad has 2 elements, the op needs 3", Assert.Throws<ArgumentException>(() => _r.OptimizerStep(adam, 1, [Tensor(1, 1, 2), Tensor(3, 2, 2)])).Message);
        Assert.Contains("Adam keeps 2 state tensors, 1 given", Assert.Throws<ArgumentException>(() => _r.OptimizerStep(adam, 1, [Tensor(3, 3, 2), Tensor(1, 1, 1)])).Message);
        using var other = new ReferenceBackend();
        Assert.Contains("belongs to backend", Assert.Throws<ArgumentException>(() => _r.OptimizerStep(adam, 1, [new OptimizerTensor(other.AllocatePoisoned(1), _r.AllocatePoisoned(1), [_r.AllocatePoisoned(1), _r.AllocatePoisoned(1)])])).Message);
    }

    /// <summary>
    /// Steps 1, 2, ... with one gradient each, from state filled as the caller must (zeros, or Adagrad's initial
    /// accumulator value); checks that the gradients are left as they were.
    /// </summary>
    private (double[] Param, double[][] State) Run(OptimizerSettings s, double[] param, double[][] grads)
    {
        double initial = s.Kind == OptimizerKind.Adagrad ? s.InitialAccumulatorValue : 0;
        var p = _r.Upload(param);
        var state = Enumerable.Range(0, s.StateCount)
            .Select(_ => (DeviceView)_r.Upload(Enumerable.Repeat(initial, param.Length).ToArray()))
            .ToArray();
        for (int step = 1; step <= grads.Length; step++)
        {
            var grad = _r.Upload(grads[step - 1]);
            _r.OptimizerStep(s, step, p, grad, state);
            TensorAssert.Close("grad", grads[step - 1], _r.Download(grad), tolerance: 0);
        }
        return (_r.Download(p), state.Select(v => _r.Download(v)).ToArray());
    }
}
