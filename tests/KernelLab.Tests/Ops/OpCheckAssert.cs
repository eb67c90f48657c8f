using KernelLab.Backends;

namespace KernelLab.Tests;

/// <summary>The tests' side of <see cref="OpCheck"/> (backends/Conformance): the same check, asserted.</summary>
public static class OpCheckAssert
{
    /// <summary>Fails with every mismatching tensor when the backend disagrees with the reference.</summary>
    public static void AssertMatchesReference(this OpCase opCase, Backend backend) => Assert(opCase.Check(backend));

    private static void Assert(OpCheckResult result) =>
        Xunit.Assert.True(result.Passed, $"{result.Backend} against the reference:{Environment.NewLine}{result.Failures}");
}
