using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>
/// Layer <c>k</c> of nn.LSTM(batch_first=True) with zero initial state. Sequences are held time-major
/// ([T, B, features]) so that each step's rows are contiguous: the input projection of all steps is one
/// GEMM, and the recurrent GEMM and the cell read and write one slice per step.
/// </summary>
public sealed class LstmLayer : IRecurrentLayer
{
    private readonly Backend _backend;
    private readonly int _t, _b, _in, _h;
    private readonly DeviceBuffer _preact;  // [T, B, 4H]: x W_ih^T + b_ih + b_hh, then + h_{t-1} W_hh^T
    private readonly DeviceBuffer _gates;   // [T, B, 4H]: activated i, f, g, o
    private readonly DeviceBuffer _cells;   // [T, B, H]
    private readonly DeviceBuffer _zeros;   // [B, H]: c_{-1}
    private readonly DeviceBuffer _dPreact; // [T, B, 4H]
    private readonly DeviceBuffer _dCell;   // [B, H]: dc flowing back through time

    public LstmLayer(Backend backend, ParameterSet parameters, int layer, int inFeatures, int hidden, int batch, int steps)
    {
        _backend = backend;
        (_t, _b, _in, _h) = (steps, batch, inFeatures, hidden);
        var init = new Init.Uniform(1.0 / Math.Sqrt(hidden));
        WeightIh = parameters.Add($"lstm.weight_ih_l{layer}", init, 4 * hidden, inFeatures);
        WeightHh = parameters.Add($"lstm.weight_hh_l{layer}", init, 4 * hidden, hidden);
        BiasIh = parameters.Add($"lstm.bias_ih_l{layer}", init, 4 * hidden);
        BiasHh = parameters.Add($"lstm.bias_hh_l{layer}", init, 4 * hidden);
        long rows = (long)steps * batch;
        _preact = backend.Allocate(rows * 4 * hidden);
        _gates = backend.Allocate(rows * 4 * hidden);
        _cells = backend.Allocate(rows * hidden);
        _zeros = backend.Allocate((long)batch * hidden);
        _dPreact = backend.Allocate(rows * 4 * hidden);
        _dCell = backend.Allocate((long)batch * hidden);
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
        int g = 4 * _h;
        _backend.Gemm(false, true, Rows, g, _in, x, WeightIh.Value, _preact);
        _backend.AddBias(_preact, BiasIh.Value, Rows, g, 1);
        _backend.AddBias(_preact, BiasHh.Value, Rows, g, 1);
        for (int t = 0; t < _t; t++)
        {
            if (t > 0)
                _backend.Gemm(false, true, _b, g, _h, Step(Output, t - 1, _h), WeightHh.Value, Step(_preact, t, g), accumulate: true);
            var cPrev = t > 0 ? Step(_cells, t - 1, _h) : _zeros;
            _backend.LstmCellForward(Step(_preact, t, g), cPrev, Step(_gates, t, g), Step(_cells, t, _h), Step(Output, t, _h), _b, _h);
        }
    }

    /// <param name="x">[T, B, in], the forward's input.</param>
    /// <param name="dy">[T, B, H], the gradient of the output; the recurrent gradient is added into it, step by step.</param>
    /// <param name="dx">[T, B, in], or null for none.</param>
    public void Backward(DeviceView x, DeviceView dy, DeviceView? dx)
    {
        int g = 4 * _h;
        _backend.Fill(_dCell, 0f);
        for (int t = _t - 1; t >= 0; t--)
        {
            var dh = dy.Slice((long)t * _b * _h, (long)_b * _h);
            if (t < _t - 1)
                _backend.Gemm(false, false, _b, _h, g, Step(_dPreact, t + 1, g), WeightHh.Value, dh, accumulate: true);
            var cPrev = t > 0 ? Step(_cells, t - 1, _h) : _zeros;
            _backend.LstmCellBackward(Step(_gates, t, g), cPrev, Step(_cells, t, _h), dh, _dCell, Step(_dPreact, t, g), _dCell, _b, _h);
        }
        _backend.Gemm(true, false, g, _in, Rows, _dPreact, x, WeightIh.Grad);
        // h_{t-1} feeds step t: pair the gate gradients of steps 1..T-1 with the outputs of steps 0..T-2 (zero when T = 1).
        long shifted = (long)(_t - 1) * _b;
        _backend.Gemm(true, false, g, _h, (int)shifted, _dPreact.Slice((long)_b * g, shifted * g), Output.Slice(0, shifted * _h), WeightHh.Grad);
        _backend.BiasBackward(_dPreact, BiasIh.Grad, Rows, g, 1);
        _backend.BiasBackward(_dPreact, BiasHh.Grad, Rows, g, 1);
        if (dx is { } d)
            _backend.Gemm(false, false, Rows, _in, g, _dPreact, WeightIh.Value, d);
    }

    public void Dispose()
    {
        foreach (var buffer in new[] { _preact, _gates, _cells, _zeros, _dPreact, _dCell, Output })
            buffer.Dispose();
    }
}
