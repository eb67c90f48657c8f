using KernelLab.Backends.Reference;

namespace KernelLab.Backends.Conformance;

/// <summary>
/// One op, or a forward and its backward, run on a backend under test and on the reference from the same random
/// inputs. Outputs start as NaN on both, so an element that the op does not write cannot pass. Afterwards every
/// tensor is compared with the reference's at the backend's tolerance: the outputs, the tensors updated in place,
/// and the inputs, which must come back as they went in. The tests assert on the result; <c>kernellab ops</c>
/// prints it and then times the op.
/// </summary>
public sealed class OpCheck
{
    private readonly RandomData _data;
    private readonly List<(string Name, double[]? Values, long Length, bool Read, bool Written)> _tensors = []; // Values null: an output, poisoned
    private readonly List<(string Name, int[] Values)> _indices = [];
    private readonly List<(string Name, long Length)> _indexScratch = [];

    /// <summary>The name appears in every failure; it also seeds the random inputs, so a failing check reproduces.</summary>
    public OpCheck(string name)
    {
        Name = name;
        _data = new RandomData(StableHash(name));
    }

    public string Name { get; }

    /// <summary>An input, uniform in [min, max).</summary>
    public OpCheck In(string name, long length, double min = -1, double max = 1) => In(name, _data.Uniform(length, min, max));

    /// <summary>An input drawn by <paramref name="draw"/> from this check's random data.</summary>
    public OpCheck In(string name, Func<RandomData, double[]> draw) => In(name, draw(_data));

    public OpCheck In(string name, double[] values)
    {
        _tensors.Add((name, values, values.Length, Read: true, Written: false));
        return this;
    }

    /// <summary>An input that the op writes over (in place: a = a + b, dx into dy, an optimizer's parameter and state), uniform in [min, max).</summary>
    public OpCheck Updated(string name, long length, double min = -1, double max = 1) => Updated(name, _data.Uniform(length, min, max));

    public OpCheck Updated(string name, double[] values)
    {
        _tensors.Add((name, values, values.Length, Read: true, Written: true));
        return this;
    }

    /// <summary>
    /// An output: NaN before the op runs, or random values when <paramref name="accumulated"/> (the op adds to it).
    /// </summary>
    public OpCheck Out(string name, long length, bool accumulated = false)
    {
        _tensors.Add((name, accumulated ? _data.Uniform(length) : null, length, Read: accumulated, Written: true));
        return this;
    }

    /// <summary>int32 indices uniform in [0, bound): token ids, class targets.</summary>
    public OpCheck Indices(string name, long length, int bound)
    {
        _indices.Add((name, _data.Indices(length, bound)));
        return this;
    }

    /// <summary>
    /// int32 indices that one op writes and the next reads (max-pool arg-max). The contract has no way to read
    /// indices back, so they are checked through the op that reads them.
    /// </summary>
    public OpCheck IndexScratch(string name, long length)
    {
        _indexScratch.Add((name, length));
        return this;
    }

    /// <summary>
    /// The least memory traffic of the op, in bytes, at <paramref name="precision"/>: each input read once, each output written
    /// once, a tensor the op updates read and written; int32 indices read once, and those one op writes for the next
    /// (max-pool's arg-max) written and read. A roofline's bytes: any implementation moves at least these.
    /// </summary>
    public long Bytes(Precision precision)
    {
        int size = precision == Precision.Float64 ? sizeof(double) : sizeof(float);
        return _tensors.Sum(t => t.Length * size * ((t.Read ? 1 : 0) + (t.Written ? 1 : 0)))
            + _indices.Sum(i => (long)i.Values.Length * sizeof(int))
            + _indexScratch.Sum(i => 2 * i.Length * sizeof(int));
    }

    /// <summary>Runs the op on <paramref name="backend"/> and on a fresh reference and compares every tensor.</summary>
    public OpCheckResult Check(Backend backend, Action<Backend, OpBuffers> op)
    {
        using var reference = new ReferenceBackend();
        var expected = Execute(reference, op);
        var actual = Execute(backend, op);
        double tolerance = TensorComparison.ToleranceFor(backend.Precision);
        return new OpCheckResult(Name, backend.Name,
            _tensors.Select(t => TensorComparison.Compare($"{Name}: {t.Name}", actual[t.Name], expected[t.Name], tolerance)).ToList());
    }

    /// <summary>The check's buffers on <paramref name="backend"/>, inputs uploaded and outputs poisoned: what an op is timed on.</summary>
    public OpBuffers Allocate(Backend backend)
    {
        var buffers = new OpBuffers();
        try
        {
            foreach (var (name, values, length, _, _) in _tensors)
                buffers.Add(name, values is null ? backend.AllocatePoisoned(length) : backend.Upload(values));
            foreach (var (name, values) in _indices)
                buffers.Add(name, backend.Upload(values));
            foreach (var (name, length) in _indexScratch)
                buffers.Add(name, backend.AllocateIndices(length));
            return buffers;
        }
        catch
        {
            buffers.Dispose();
            throw;
        }
    }

    private Dictionary<string, double[]> Execute(Backend backend, Action<Backend, OpBuffers> op)
    {
        using var buffers = Allocate(backend);
        op(backend, buffers);
        return _tensors.ToDictionary(t => t.Name, t => backend.Download(buffers[t.Name]));
    }

    // FNV-1a: string.GetHashCode changes from run to run.
    private static int StableHash(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text)
            hash = (hash ^ c) * 16777619;
        return (int)hash;
    }
}

/// <summary>Every tensor of one <see cref="OpCheck"/> against the reference.</summary>
public sealed record OpCheckResult(string Name, string Backend, IReadOnlyList<ComparisonResult> Tensors)
{
    public bool Passed => Tensors.All(t => t.Passed);

    /// <summary>The largest error over the tensors (infinite where a NaN or an infinity appeared).</summary>
    public double MaxError => Tensors.Count == 0 ? 0 : Tensors.Max(t => t.MaxError);

    /// <summary>One line per failing tensor, or the empty string.</summary>
    public string Failures => string.Join(Environment.NewLine, Tensors.Where(t => !t.Passed).Select(t => t.ToString()));
}

/// <summary>An <see cref="OpCheck"/>'s buffers on one backend, by name.</summary>
public sealed class OpBuffers : IDisposable
{
    private readonly Dictionary<string, DeviceBuffer> _buffers = [];
    private readonly Dictionary<string, DeviceIndexBuffer> _indices = [];

    public DeviceBuffer this[string name] => _buffers[name];

    public DeviceIndexBuffer Indices(string name) => _indices[name];

    internal void Add(string name, DeviceBuffer buffer) => _buffers.Add(name, buffer);

    internal void Add(string name, DeviceIndexBuffer buffer) => _indices.Add(name, buffer);

    public void Dispose()
    {
        foreach (var buffer in _buffers.Values)
            buffer.Dispose();
        foreach (var buffer in _indices.Values)
            buffer.Dispose();
    }
}
