using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>
/// Layer <c>k</c> of nn.LSTM or nn.GRU (batch_first=True) with zero initial state: its four parameters
/// (<c>PREFIX.weight_ih_lk [G*H, in]</c>, <c>weight_hh_lk [G*H, H]</c>, <c>bias_ih_lk</c>, <c>bias_hh_lk [G*H]</c>, G gate
/// blocks per hidden unit, all U(-1/sqrt(H), 1/sqrt(H))) and its output. Sequences are held time-major ([T, B, features])
/// so that each step's rows are contiguous: the input projection of all steps is one GEMM, and the recurrent GEMM and
/// the cell read and write one slice per step.
/// </summary>
public abstract class RecurrentLayer : IDisposable
{
    private readonly List<DeviceBuffer> _buffers = [];

    protected RecurrentLayer(Backend backend, ParameterSet parameters, string prefix, int gates, int layer, int inFeatures, int hidden, int batch, int steps)
    {
        Backend = backend;
        (T, B, In, H) = (steps, batch, inFeatures, hidden);
        var init = new Init.Uniform(1.0 / Math.Sqrt(hidden));
        WeightIh = parameters.Add($"{prefix}.weight_ih_l{layer}", init, gates * hidden, inFeatures);
        WeightHh = parameters.Add($"{prefix}.weight_hh_l{layer}", init, gates * hidden, hidden);
        BiasIh = parameters.Add($"{prefix}.bias_ih_l{layer}", init, gates * hidden);
        BiasHh = parameters.Add($"{prefix}.bias_hh_l{layer}", init, gates * hidden);
        Output = Allocate((long)steps * batch * hidden);
        Zeros = Allocate((long)batch * hidden);
        backend.Fill(Zeros, 0f);
    }

    protected Backend Backend { get; }

    /// <summary>Time steps, batch, input features and hidden units.</summary>
    protected int T { get; }

    protected int B { get; }

    protected int In { get; }

    protected int H { get; }

    public Parameter WeightIh { get; }

    public Parameter WeightHh { get; }

    public Parameter BiasIh { get; }

    public Parameter BiasHh { get; }

    public DeviceBuffer Output { get; } // [T, B, H]: h_t of every step

    /// <summary>[B, H] of zeros: the initial state.</summary>
    protected DeviceBuffer Zeros { get; }

    protected int Rows => T * B;

    /// <summary>Step t's slice of a time-major buffer of <paramref name="width"/> features.</summary>
    protected DeviceView Step(DeviceBuffer buffer, int t, int width) => buffer.Slice((long)t * B * width, (long)B * width);

    /// <summary>A buffer the layer owns.</summary>
    protected DeviceBuffer Allocate(long length)
    {
        var buffer = Backend.Allocate(length);
        _buffers.Add(buffer);
        return buffer;
    }

    /// <param name="x">[T, B, in]</param>
    public abstract void Forward(DeviceView x);

    /// <summary>Writes the layer's parameter gradients and dx (when not null) from dy, which the layer adds its recurrent gradients into.</summary>
    /// <param name="x">[T, B, in], the forward's input.</param>
    /// <param name="dy">[T, B, H], the gradient of the output.</param>
    /// <param name="dx">[T, B, in], or null for none.</param>
    public abstract void Backward(DeviceView x, DeviceView dy, DeviceView? dx);

    /// <summary>
    /// The products of the backward that follow the per-step loop, from the gradients of the two projections (dGi, and dGh
    /// of the recurrent one; the same buffer for the LSTM, whose projections share their pre-activations): both weight
    /// gradients, both bias gradients, and dx.
    /// </summary>
    protected void ProjectionGradients(DeviceView x, DeviceBuffer dGi, DeviceBuffer dGh, DeviceView? dx)
    {
        int g = (int)WeightIh.Shape[0];
        Backend.Gemm(true, false, g, In, Rows, dGi, x, WeightIh.Grad);
        // h_{t-1} feeds step t: pair the gradients of steps 1..T-1 with the outputs of steps 0..T-2 (zero when T = 1).
        long shifted = (long)(T - 1) * B;
        Backend.Gemm(true, false, g, H, (int)shifted, dGh.Slice((long)B * g, shifted * g), Output.Slice(0, shifted * H), WeightHh.Grad);
        Backend.BiasBackward(dGi, BiasIh.Grad, Rows, g, 1);
        if (ReferenceEquals(dGi, dGh))
        {
            // One buffer (the LSTM's): both bias gradients are the same sum, so the second is a copy of the first (0 + it).
            Backend.Fill(BiasHh.Grad, 0f);
            Backend.Add(BiasHh.Grad, BiasIh.Grad, BiasHh.Grad, g);
        }
        else
        {
            Backend.BiasBackward(dGh, BiasHh.Grad, Rows, g, 1);
        }
        if (dx is { } d)
            Backend.Gemm(false, false, Rows, In, g, dGi, WeightIh.Value, d);
    }

    public void Dispose()
    {
        foreach (var buffer in _buffers)
            buffer.Dispose();
        GC.SuppressFinalize(this);
    }
}
