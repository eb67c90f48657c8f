using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>nn.Linear over <c>rows</c> rows: y [rows, out] = x [rows, in] W^T + b, with W [out, in].</summary>
public sealed class Linear : IDisposable
{
    private readonly Backend _backend;
    private readonly int _rows, _in, _out;

    public Linear(Backend backend, ParameterSet parameters, string name, int inFeatures, int outFeatures, int rows, bool bias = true)
    {
        _backend = backend;
        (_rows, _in, _out) = (rows, inFeatures, outFeatures);
        var init = new Init.Uniform(1.0 / Math.Sqrt(inFeatures));
        Weight = parameters.Add($"{name}.weight", init, outFeatures, inFeatures);
        Bias = bias ? parameters.Add($"{name}.bias", init, outFeatures) : null;
        Output = backend.Allocate((long)rows * outFeatures);
    }

    public Parameter Weight { get; }

    public Parameter? Bias { get; }

    public DeviceBuffer Output { get; } // [rows, out]

    public void Forward(DeviceView x)
    {
        _backend.Gemm(false, true, _rows, _out, _in, x, Weight.Value, Output);
        if (Bias is not null)
            _backend.AddBias(Output, Bias.Value, _rows, _out, 1);
    }

    /// <summary>Writes the parameter gradients and, when <paramref name="dx"/> is given, dx [rows, in].</summary>
    public void Backward(DeviceView x, DeviceView dy, DeviceView? dx)
    {
        _backend.Gemm(true, false, _out, _in, _rows, dy, x, Weight.Grad);
        if (Bias is not null)
            _backend.BiasBackward(dy, Bias.Grad, _rows, _out, 1);
        if (dx is { } d)
            _backend.Gemm(false, false, _rows, _in, _out, dy, Weight.Value, d);
    }

    public void Dispose() => Output.Dispose();
}
