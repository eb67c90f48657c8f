using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>Layer <c>k</c> of nn.LSTM(batch_first=True) with zero initial state (<see cref="RecurrentLayer"/>), gates i, f, g, o.</summary>
public sealed class LstmLayer : RecurrentLayer
{
    private readonly DeviceBuffer _preact;  // [T, B, 4H]: x W_ih^T + (b_ih + b_hh), then + h_{t-1} W_hh^T
    private readonly DeviceBuffer _bias;    // [4H]: b_ih + b_hh, so that one pass over the pre-activations adds both
    private readonly DeviceBuffer _gates;   // [T, B, 4H]: activated i, f, g, o
    private readonly DeviceBuffer _cells;   // [T, B, H]
    private readonly DeviceBuffer _dPreact; // [T, B, 4H]
    private readonly DeviceBuffer _dCell;   // [B, H]: dc flowing back through time

    public LstmLayer(Backend backend, ParameterSet parameters, int layer, int inFeatures, int hidden, int batch, int steps)
        : base(backend, parameters, "lstm", 4, layer, inFeatures, hidden, batch, steps)
    {
        long rows = (long)steps * batch;
        _preact = Allocate(rows * 4 * hidden);
        _gates = Allocate(rows * 4 * hidden);
        _cells = Allocate(rows * hidden);
        _dPreact = Allocate(rows * 4 * hidden);
        _dCell = Allocate((long)batch * hidden);
        _bias = Allocate(4L * hidden);
    }

    public override void Forward(DeviceView x)
    {
        int g = 4 * H;
        Backend.Gemm(false, true, Rows, g, In, x, WeightIh.Value, _preact);
        Backend.Add(BiasIh.Value, BiasHh.Value, _bias, g);
        Backend.AddBias(_preact, _bias, Rows, g, 1);
        for (int t = 0; t < T; t++)
        {
            if (t > 0)
                Backend.Gemm(false, true, B, g, H, Step(Output, t - 1, H), WeightHh.Value, Step(_preact, t, g), accumulate: true);
            var cPrev = t > 0 ? Step(_cells, t - 1, H) : Zeros;
            Backend.LstmCellForward(Step(_preact, t, g), cPrev, Step(_gates, t, g), Step(_cells, t, H), Step(Output, t, H), B, H);
        }
    }

    public override void Backward(DeviceView x, DeviceView dy, DeviceView? dx)
    {
        int g = 4 * H;
        Backend.Fill(_dCell, 0f);
        for (int t = T - 1; t >= 0; t--)
        {
            var dh = dy.Slice((long)t * B * H, (long)B * H);
            if (t < T - 1)
                Backend.Gemm(false, false, B, H, g, Step(_dPreact, t + 1, g), WeightHh.Value, dh, accumulate: true);
            var cPrev = t > 0 ? Step(_cells, t - 1, H) : Zeros;
            Backend.LstmCellBackward(Step(_gates, t, g), cPrev, Step(_cells, t, H), dh, _dCell, Step(_dPreact, t, g), _dCell, B, H);
        }
        ProjectionGradients(x, _dPreact, _dPreact, dx);
    }
}
