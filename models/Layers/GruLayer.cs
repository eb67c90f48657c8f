using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>
/// Layer <c>k</c> of nn.GRU(batch_first=True) with zero initial state, held time-major ([T, B, features]) as
/// <see cref="LstmLayer"/> is: the input projection of all steps is one GEMM; the recurrent GEMM and the cell read and
/// write one slice per step.
/// </summary>
public sealed class GruLayer : IRecurrentLayer
{
    private readonly Backend _backend;
    private readonly int _t, _b, _in, _h;
    private readonly DeviceBuffer _gi;      // [T, B, 3H]: x W_ih^T + b_ih
    private readonly DeviceBuffer _gh;      // [T, B, 3H]: b_hh + h_{t-1} W_hh^T (b_hh alone at t = 0: h_{-1} = 0)
    private readonly DeviceBuffer _gates;   // [T, B, 3H]: r, z, n
    private readonly DeviceBuffer _zeros;   // [B, H]: h_{-1}
    private readonly DeviceBuffer _dGi;     // [T, B, 3H]
    private readonly DeviceBuffer _dGh;     // [T, B, 3H]
    private readonly DeviceBuffer _dFirst;  // [B, H]: the gradient of h_{-1}, which nothing reads

    public GruLayer(Backend backend, ParameterSet parameters, int layer, int inFeatures, int hidden, int batch, int steps)
    {
        _backend = backend;
        (_t, _b, _in, _h) = (steps, batch, inFeatures, hidden);
        var init = new Init.Uniform(1.0 / Math.Sqrt(hidden));
        WeightIh = parameters.Add($"gru.weight_ih_l{layer}", init, 3 * hidden, inFeatures);
        WeightHh = parameters.Add($"gru.weight_hh_l{layer}", init, 3 * hidden, hidden);
        BiasIh = parameters.Add($"gru.bias_ih_l{layer}", init, 3 * hidden);
        BiasHh = parameters.Add($"gru.bias_hh_l{layer}", init, 3 * hidden);
        long rows = (long)steps * batch;
        _gi = backend.Allocate(rows * 3 * hidden);
        _gh = backend.Allocate(rows * 3 * hidden);
        _gates = backend.Allocate(rows * 3 * hidden);
        _zeros = backend.Allocate((long)batch * hidden);
        _dGi = backend.Allocate(rows * 3 * hidden);
        _dGh = backend.Allocate(rows * 3 * hidden);
        _dFirst = backend.Allocate((long)batch * hidden);
        Output = backend.Allocate(rows * hidden);
        backend.Fill(_zeros, 0f);
    }

    public Parameter WeightIh { get; }

    public Parameter WeightHh { get; }

    public Parameter BiasIh { get; }

    public Parameter BiasHh { get; }

    public DeviceBuffer Output { get; } // [T, B, H]: h_t of every step

    private int Rows => _t * _b;

    private DeviceView Step(DeviceBuffer buffer, int t, int width) => buffer.Slice((long)t * _b * width, (long)_b * width);

    /// <param name="x">[T, B, in]</param>
    public void Forward(DeviceView x)
    {
        int g = 3 * _h;
        _backend.Gemm(false, true, Rows, g, _in, x, WeightIh.Value, _gi);
        _backend.AddBias(_gi, BiasIh.Value, Rows, g, 1);
        // gh keeps b_hh apart from gi: the reset gate multiplies W_hn h + b_hn, not the input's part.
        _backend.Fill(_gh, 0f);
        _backend.AddBias(_gh, BiasHh.Value, Rows, g, 1);
        for (int t = 0; t < _t; t++)
        {
            if (t > 0)
                _backend.Gemm(false, true, _b, g, _h, Step(Output, t - 1, _h), WeightHh.Value, Step(_gh, t, g), accumulate: true);
            var hPrev = t > 0 ? Step(Output, t - 1, _h) : _zeros;
            _backend.GruCellForward(Step(_gi, t, g), Step(_gh, t, g), hPrev, Step(_gates, t, g), Step(Output, t, _h), _b, _h);
        }
    }

    /// <param name="x">[T, B, in], the forward's input.</param>
    /// <param name="dy">[T, B, H], the gradient of the output; the recurrent gradient is added into it, step by step.</param>
    /// <param name="dx">[T, B, in], or null for none.</param>
    public void Backward(DeviceView x, DeviceView dy, DeviceView? dx)
    {
        int g = 3 * _h;
        _backend.Fill(_dFirst, 0f);
        for (int t = _t - 1; t >= 0; t--)
        {
            var dhPrev = t > 0 ? dy.Slice((long)(t - 1) * _b * _h, (long)_b * _h) : _dFirst;
            var hPrev = t > 0 ? Step(Output, t - 1, _h) : _zeros;
            // The cell adds z * dh into dh_{t-1}; the product through W_hh follows.
            _backend.GruCellBackward(Step(_gates, t, g), Step(_gh, t, g), hPrev, dy.Slice((long)t * _b * _h, (long)_b * _h),
                Step(_dGi, t, g), Step(_dGh, t, g), dhPrev, _b, _h);
            if (t > 0)
                _backend.Gemm(false, false, _b, _h, g, Step(_dGh, t, g), WeightHh.Value, dhPrev, accumulate: true);
        }
        _backend.Gemm(true, false, g, _in, Rows, _dGi, x, WeightIh.Grad);
        // h_{t-1} feeds step t: pair the hidden gradients of steps 1..T-1 with the outputs of steps 0..T-2 (zero when T = 1).
        long shifted = (long)(_t - 1) * _b;
        _backend.Gemm(true, false, g, _h, (int)shifted, _dGh.Slice((long)_b * g, shifted * g), Output.Slice(0, shifted * _h), WeightHh.Grad);
        _backend.BiasBackward(_dGi, BiasIh.Grad, Rows, g, 1);
        _backend.BiasBackward(_dGh, BiasHh.Grad, Rows, g, 1);
        if (dx is { } d)
            _backend.Gemm(false, false, Rows, _in, g, _dGi, WeightIh.Value, d);
    }

    public void Dispose()
    {
        foreach (var buffer in new[] { _gi, _gh, _gates, _zeros, _dGi, _dGh, _dFirst, Output })
            buffer.Dispose();
    }
}

/// <summary>A recurrent layer over time-major sequences [T, B, features]: what the lstm and gru language models stack.</summary>
public interface IRecurrentLayer : IDisposable
{
    DeviceBuffer Output { get; } // [T, B, H]

    void Forward(DeviceView x);

    /// <summary>Writes the layer's parameter gradients and dx (when not null) from dy, which the layer adds its recurrent gradients into.</summary>
    void Backward(DeviceView x, DeviceView dy, DeviceView? dx);
}
