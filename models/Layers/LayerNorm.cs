using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>nn.LayerNorm(cols, eps=1e-5) over rows of x [rows, cols].</summary>
public sealed class LayerNorm : IDisposable
{
    private const double Eps = 1e-5;
    private readonly Backend _backend;
    private readonly int _rows, _cols;
    private readonly DeviceBuffer _mean, _rstd; // [rows] each

    public LayerNorm(Backend backend, ParameterSet parameters, string name, int cols, int rows)
    {
        _backend = backend;
        (_rows, _cols) = (rows, cols);
        Weight = parameters.Add($"{name}.weight", new Init.Constant(1), cols);
        Bias = parameters.Add($"{name}.bias", new Init.Constant(0), cols);
        Output = backend.Allocate((long)rows * cols);
        _mean = backend.Allocate(rows);
        _rstd = backend.Allocate(rows);
    }

    public Parameter Weight { get; }

    public Parameter Bias { get; }

    public DeviceBuffer Output { get; } // [rows, cols]

    public void Forward(DeviceView x) =>
        _backend.LayerNormForward(x, Weight.Value, Bias.Value, Output, _mean, _rstd, _rows, _cols, Eps);

    public void Backward(DeviceView x, DeviceView dy, DeviceView dx) =>
        _backend.LayerNormBackward(dy, x, Weight.Value, _mean, _rstd, dx, Weight.Grad, Bias.Grad, _rows, _cols);

    public void Dispose()
    {
        Output.Dispose();
        _mean.Dispose();
        _rstd.Dispose();
    }
}
