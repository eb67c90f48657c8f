using KernelLab.Backends;
using KernelLab.Models.Safetensors;

namespace KernelLab.Models;

/// <summary>How a parameter is initialised: PyTorch's default distribution for the module that owns it.</summary>
public abstract record Init
{
    /// <summary>U(-bound, bound): nn.Linear and nn.Conv2d (bound = 1/sqrt(fan_in)), nn.LSTM (1/sqrt(hidden)).</summary>
    public sealed record Uniform(double Bound) : Init;

    /// <summary>N(0, 1): nn.Embedding.</summary>
    public sealed record Normal : Init;

    /// <summary>A constant: nn.LayerNorm (weight 1, bias 0).</summary>
    public sealed record Constant(double Value) : Init;
}

/// <summary>One named parameter, laid out as PyTorch's state_dict holds it, and its gradient.</summary>
public sealed class Parameter(string name, long[] shape, Init init, DeviceBuffer value, DeviceBuffer grad)
{
    public string Name { get; } = name;

    public IReadOnlyList<long> Shape { get; } = shape;

    public Init Init { get; } = init;

    public long Length => Value.Length;

    public DeviceBuffer Value { get; } = value;

    public DeviceBuffer Grad { get; } = grad;
}

/// <summary>
/// The parameters of a network in PyTorch's state_dict order. Layers add theirs as they are built.
/// </summary>
public sealed class ParameterSet(Backend backend) : IDisposable
{
    private readonly List<Parameter> _parameters = [];

    public IReadOnlyList<Parameter> All => _parameters;

    public Parameter Add(string name, Init init, params long[] shape)
    {
        long length = TensorLength.Of($"parameter '{name}'", shape);
        var p = new Parameter(name, shape, init, backend.Allocate(length), backend.Allocate(length));
        _parameters.Add(p);
        return p;
    }

    /// <summary>
    /// Fills every parameter from its <see cref="Init"/> with a seeded generator, in state_dict order.
    /// Values are rounded to float32 first, so that every backend starts from the same parameters.
    /// </summary>
    public void Initialize(ulong seed)
    {
        var random = new SeededRandom(seed);
        foreach (var p in _parameters)
        {
            var values = new float[p.Length];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (float)(p.Init switch
                {
                    Init.Uniform u => (2 * random.NextDouble() - 1) * u.Bound,
                    Init.Normal => random.NextGaussian(),
                    Init.Constant c => c.Value,
                    _ => throw new InvalidOperationException(p.Init.ToString()),
                });
            }
            backend.CopyIn(p.Value, values);
        }
    }

    /// <summary>Every parameter as F32 under its PyTorch name, ready to write: PyTorch's load_state_dict takes the file as it is.</summary>
    public SafetensorsWriter ToSafetensors()
    {
        var writer = new SafetensorsWriter();
        foreach (var p in _parameters)
        {
            var values = new float[p.Length];
            backend.CopyOut(p.Value, values);
            writer.Add(p.Name, p.Shape.ToArray(), values);
        }
        return writer;
    }

    public void Dispose()
    {
        foreach (var p in _parameters)
        {
            p.Value.Dispose();
            p.Grad.Dispose();
        }
    }
}

/// <summary>
/// xoshiro256** seeded through SplitMix64: the same numbers on every machine and .NET version, so that a
/// seed in a suite file means the same parameters and batch later.
/// </summary>
public sealed class SeededRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public SeededRandom(ulong seed)
    {
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, count).</summary>
    public int NextInt(int count) => (int)(NextDouble() * count);

    /// <summary>Standard normal (Box-Muller).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]: log is finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static ulong SplitMix(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
