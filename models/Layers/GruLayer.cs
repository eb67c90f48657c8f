using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>
/// Layer <c>k</c> of nn.GRU(batch_first=True) with zero initial state (<see cref="RecurrentLayer"/>), gates r, z, n. The hidden
/// projection is kept apart from the input's (gh): the reset gate multiplies W_hn h + b_hn, not the input's part.
/// </summary>
public sealed class GruLayer : RecurrentLayer
{
    private readonly DeviceBuffer _gi;      // [T, B, 3H]: x W_ih^T + b_ih
    private readonly DeviceBuffer _gh;      // [T, B, 3H]: b_hh + h_{t-1} W_hh^T (b_hh alone at t = 0: h_{-1} = 0)
    private readonly DeviceBuffer _gates;   // [T, B, 3H]: r, z, n
    private readonly DeviceBuffer _dGi;     // [T, B, 3H]
    private readonly DeviceBuffer _dGh;     // [T, B, 3H]
    private readonly DeviceBuffer _dFirst;  // [B, H]: the gradient of h_{-1}, which nothing reads

    public GruLayer(Backend backend, ParameterSet parameters, int layer, int inFeatures, int hidden, int batch, int steps)
        : base(backend, parameters, "gru", 3, layer, inFeatures, hidden, batch, steps)
    {
        long rows = (long)steps * batch;
        _gi = Allocate(rows * 3 * hidden);
        _gh = Allocate(rows * 3 * hidden);
        _gates = Allocate(rows * 3 * hidden);
        _dGi = Allocate(rows * 3 * hidden);
        _dGh = Allocate(rows * 3 * hidden);
        _dFirst = Allocate((long)batch * hidden);
    }

    public override void Forward(DeviceView x)
    {
        int g = 3 * H;
        Backend.Gemm(false, true, Rows, g, In, x, WeightIh.Value, _gi);
        Backend.AddBias(_gi, BiasIh.Value, Rows, g, 1);
        Backend.Fill(_gh, 0f);
        Backend.AddBias(_gh, BiasHh.Value, Rows, g, 1);
        for (int t = 0; t < T; t++)
        {
            if (t > 0)
                Backend.Gemm(false, true, B, g, H, Step(Output, t - 1, H), WeightHh.Value, Step(_gh, t, g), accumulate: true);
            var hPrev = t > 0 ? Step(Output, t - 1, H) : Zeros;
            Backend.GruCellForward(Step(_gi, t, g), Step(_gh, t, g), hPrev, Step(_gates, t, g), Step(Output, t, H), B, H);
        }
    }

    public override void Backward(DeviceView x, DeviceView dy, DeviceView? dx)
    {
        int g = 3 * H;
        Backend.Fill(_dFirst, 0f);
        for (int t = T - 1; t >= 0; t--)
        {
            var dhPrev = t > 0 ? dy.Slice((long)(t - 1) * B * H, (long)B * H) : _dFirst;
            var hPrev = t > 0 ? Step(Output, t - 1, H) : Zeros;
            // The cell adds z * dh into dh_{t-1}; the product through W_hh follows.
            Backend.GruCellBackward(Step(_gates, t, g), Step(_gh, t, g), hPrev, dy.Slice((long)t * B * H, (long)B * H),
                Step(_dGi, t, g), Step(_dGh, t, g), dhPrev, B, H);
            if (t > 0)
                Backend.Gemm(false, false, B, H, g, Step(_dGh, t, g), WeightHh.Value, dhPrev, accumulate: true);
        }
        ProjectionGradients(x, _dGi, _dGh, dx);
    }
}
