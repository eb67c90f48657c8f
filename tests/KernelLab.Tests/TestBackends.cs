using KernelLab.Backends;
using KernelLab.Backends.Reference;

namespace KernelLab.Tests;

/// <summary>The backends that are compared with the reference.</summary>
public static class TestBackends
{
    /// <summary>Every registered backend but the reference: one theory row each, skipped where it cannot run.</summary>
    public static TheoryData<string> ComparedWithReference => new(NamesComparedWithReference);

    public static IEnumerable<string> NamesComparedWithReference => BackendRegistry.Names.Where(name => name != ReferenceBackend.Entry.Name);

    /// <summary>Creates the backend, or skips the test with the reason it cannot run on this machine.</summary>
    public static Backend CreateOrSkip(string name)
    {
        var entry = BackendRegistry.Find(name);
        var availability = entry.Probe();
        if (!availability.IsAvailable)
            Assert.Skip($"{name} unavailable: {availability.Reason}");
        return entry.Create();
    }
}

public static class TensorAssert
{
    /// <summary>Passes when <paramref name="actual"/> matches <paramref name="expected"/> by the one comparison rule of MODELS.md.</summary>
    public static void Close(string name, ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double tolerance = 1e-12)
    {
        var result = TensorComparison.Compare(name, actual, expected, tolerance);
        Assert.True(result.Passed, result.ToString());
    }
}
