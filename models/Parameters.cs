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

    /// <summary>
    /// True where the gradient is zero in exact arithmetic: the bias of a layer that batch norm follows, which train mode's
    /// normalisation subtracts again. It holds rounding noise only, so comparisons measure its error on the network's
    /// gradient scale (Network.CompareGradients).
    /// </summary>
    public bool GradientVanishes { get; set; }
}

/// <summary>
/// A tensor of a module's state that is saved with the parameters but not trained (batch norm's running statistics), as
/// <c>state_dict()</c> holds a registered buffer; <see cref="Initial"/> is its value before any training.
/// </summary>
public sealed class StateBuffer(string name, long[] shape, double initial, DeviceBuffer value)
{
    public string Name { get; } = name;

    public IReadOnlyList<long> Shape { get; } = shape;

    public double Initial { get; } = initial;

    public DeviceBuffer Value { get; } = value;
}

/// <summary>An I64 scalar buffer kept on the host (batch norm's <c>num_batches_tracked</c>).</summary>
public sealed class StateCounter(string name)
{
    public string Name { get; } = name;

    public long Value { get; set; }
}

/// <summary>
/// The parameters of a network in PyTorch's state_dict order, and the buffers that state_dict holds beside them. Layers
/// add theirs as they are built.
/// </summary>
public sealed class ParameterSet(Backend backend) : IDisposable
{
    private readonly List<Parameter> _parameters = [];
    private readonly List<StateBuffer> _buffers = [];
    private readonly List<StateCounter> _counters = [];

    /// <summary>The trained parameters: what the optimizer updates and the gradient checks compare.</summary>
    public IReadOnlyList<Parameter> All => _parameters;

    public IReadOnlyList<StateBuffer> Buffers => _buffers;

    public IReadOnlyList<StateCounter> Counters => _counters;

    /// <summary>Every name a parameters file of this network holds: parameters, buffers and counters.</summary>
    public IEnumerable<string> Names => _parameters.Select(p => p.Name).Concat(_buffers.Select(b => b.Name)).Concat(_counters.Select(c => c.Name));

    public Parameter Add(string name, Init init, params long[] shape)
    {
        long length = TensorLength.Of($"parameter '{name}'", shape);
        var p = new Parameter(name, shape, init, backend.Allocate(length), backend.Allocate(length));
        _parameters.Add(p);
        return p;
    }

    /// <summary>A buffer filled with <paramref name="initial"/>.</summary>
    public StateBuffer AddBuffer(string name, double initial, params long[] shape)
    {
        var b = new StateBuffer(name, shape, initial, backend.Allocate(TensorLength.Of($"buffer '{name}'", shape)));
        backend.Fill(b.Value, initial);
        _buffers.Add(b);
        return b;
    }

    public StateCounter AddCounter(string name)
    {
        var c = new StateCounter(name);
        _counters.Add(c);
        return c;
    }

    /// <summary>
    /// Fills every parameter from its <see cref="Init"/> with a seeded generator, in state_dict order, and sets every buffer
    /// and counter to its initial value. Values are rounded to float32 first, so that every backend starts from the same parameters.
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
        foreach (var b in _buffers)
            backend.Fill(b.Value, b.Initial);
        foreach (var c in _counters)
            c.Value = 0;
    }

    /// <summary>Every parameter and buffer as F32 and every counter as I64 under its PyTorch name: load_state_dict takes the file as it is.</summary>
    public SafetensorsWriter ToSafetensors() => AddTo(new SafetensorsWriter(), keepPrecision: false);

    /// <summary>
    /// Adds the parameters, buffers and counters to <paramref name="writer"/>: as F32, or with <paramref name="keepPrecision"/>
    /// in the backend's precision (a checkpoint, which must resume bit for bit).
    /// </summary>
    public SafetensorsWriter AddTo(SafetensorsWriter writer, bool keepPrecision)
    {
        foreach (var p in _parameters)
            AddTensor(writer, p.Name, p.Shape, p.Value, keepPrecision);
        foreach (var b in _buffers)
            AddTensor(writer, b.Name, b.Shape, b.Value, keepPrecision);
        foreach (var c in _counters)
            writer.Add(c.Name, [], [c.Value]);
        return writer;
    }

    /// <summary>Writes one device tensor as F32, or as F64 where <paramref name="keepPrecision"/> and the backend is float64.</summary>
    public void AddTensor(SafetensorsWriter writer, string name, IReadOnlyList<long> shape, DeviceView value, bool keepPrecision)
    {
        long[] dims = [.. shape];
        if (keepPrecision && backend.Precision == Precision.Float64)
        {
            var values = new double[value.Length];
            backend.CopyOut(value, values);
            writer.Add(name, dims, values);
        }
        else
        {
            var values = new float[value.Length];
            backend.CopyOut(value, values);
            writer.Add(name, dims, values);
        }
    }

    /// <summary>
    /// Copies every parameter, buffer and counter in from <paramref name="file"/>, each of its exact shape (a tensor missing
    /// or of another shape is one line naming it); the caller checks the file holds nothing else (see <see cref="Names"/>).
    /// </summary>
    public void ReadFrom(SafetensorsFile file)
    {
        foreach (var p in _parameters)
            backend.CopyIn(p.Value, file.ReadReal(p.Name, p.Shape.ToArray()));
        foreach (var b in _buffers)
            backend.CopyIn(b.Value, file.ReadReal(b.Name, b.Shape.ToArray()));
        foreach (var c in _counters)
            c.Value = file.ReadIndices(c.Name, [])[0];
    }

    public void Dispose()
    {
        foreach (var p in _parameters)
        {
            p.Value.Dispose();
            p.Grad.Dispose();
        }
        foreach (var b in _buffers)
            b.Value.Dispose();
    }
}

/// <summary>
/// xoshiro256** seeded through SplitMix64: the same numbers on every machine and .NET version, so that a
/// seed in a suite file means the same parameters and batch later.
/// </summary>
public sealed class SeededRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public SeededRandom(ulong seed) => Reseed(seed);

    /// <summary>Restarts the sequence as <c>new SeededRandom(seed)</c> would, without allocating one.</summary>
    public void Reseed(ulong seed)
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
