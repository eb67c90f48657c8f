namespace KernelLab.Backends.Conformance;

/// <summary>Moving host data in and out of a backend, for checks that compare it with the reference.</summary>
public static class BackendData
{
    public static DeviceBuffer Upload(this Backend backend, ReadOnlySpan<double> values)
    {
        var buffer = backend.Allocate(values.Length);
        backend.CopyIn(buffer, values);
        return buffer;
    }

    public static DeviceIndexBuffer Upload(this Backend backend, ReadOnlySpan<int> indices)
    {
        var buffer = backend.AllocateIndices(indices.Length);
        backend.CopyIn(buffer, indices);
        return buffer;
    }

    /// <summary>A buffer full of NaN, so that an element the op under test does not write cannot pass.</summary>
    public static DeviceBuffer AllocatePoisoned(this Backend backend, long length)
    {
        var buffer = backend.Allocate(length);
        backend.Fill(buffer, float.NaN);
        return buffer;
    }

    public static double[] Download(this Backend backend, DeviceView view)
    {
        var values = new double[view.Length];
        backend.CopyOut(view, values);
        return values;
    }
}

/// <summary>Fresh random inputs for one check, reproducible from its seed.</summary>
public sealed class RandomData(int seed)
{
    private readonly Random _random = new(seed);

    /// <summary>Uniform in [min, max).</summary>
    public double[] Uniform(long length, double min = -1, double max = 1)
    {
        var values = new double[length];
        for (long i = 0; i < length; i++)
            values[i] = min + (max - min) * _random.NextDouble();
        return values;
    }

    /// <summary>|value| in [gap, 1), either sign: keeps inputs off the kink of ReLU at 0.</summary>
    public double[] AwayFromZero(long length, double gap)
    {
        var values = Uniform(length, gap, 1);
        for (long i = 0; i < length; i++)
            if (_random.Next(2) == 0)
                values[i] = -values[i];
        return values;
    }

    /// <summary>The multiples 0, spacing, 2 spacing, ... in random order: no two equal, so no max-pool window has a tie.</summary>
    public double[] Distinct(long length, double spacing)
    {
        var values = new double[length];
        for (long i = 0; i < length; i++)
            values[i] = (i - length / 2) * spacing;
        _random.Shuffle(values);
        return values;
    }

    /// <summary>Whole numbers in [0, levels): few distinct values, so that max-pool windows hold ties.</summary>
    public double[] Levels(long length, int levels)
    {
        var values = new double[length];
        for (long i = 0; i < length; i++)
            values[i] = _random.Next(levels);
        return values;
    }

    /// <summary>Uniform in [0, bound).</summary>
    public int[] Indices(long length, int bound)
    {
        var values = new int[length];
        for (long i = 0; i < length; i++)
            values[i] = _random.Next(bound);
        return values;
    }
}
