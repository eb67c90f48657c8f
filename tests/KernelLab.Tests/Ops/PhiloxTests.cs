using KernelLab.Backends;

namespace KernelLab.Tests;

/// <summary>The dropout generator against Random123's published answers, and the masks it gives against their definition.</summary>
public sealed class PhiloxTests
{
    /// <summary>Random123's kat_vectors for philox4x32 with 10 rounds: counter, key, and the four words out.</summary>
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void MatchesTheKnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3) =>
        Assert.Equal((e0, e1, e2, e3), Philox.Block(c0, c1, c2, c3, k0, k1));

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    public void AMaskDropsASharePOfTheElements(double p)
    {
        const int n = 200_000;
        var m = new DropoutMask(p, 1, 0, 1);
        int dropped = Enumerable.Range(0, n).Count(i => !m.Keeps(i));
        // The binomial's standard deviation is below 0.0012 of n here: 0.005 is more than four of them.
        Assert.InRange(dropped / (double)n, p - 0.005, p + 0.005);
    }

    [Fact]
    public void PZeroKeepsEverythingAndSitesStepsAndSeedsDrawOtherMasks()
    {
        Assert.All(Enumerable.Range(0, 10_000), i => Assert.True(new DropoutMask(0, 5, 2, 9).Keeps(i)));
        var baseMask = new DropoutMask(0.5, 1, 0, 1);
        bool[] Bits(DropoutMask m) => Enumerable.Range(0, 4096).Select(i => m.Keeps(i)).ToArray();
        var reference = Bits(baseMask);
        foreach (var other in new[] { baseMask with { Site = 1 }, baseMask with { Step = 2 }, baseMask with { Seed = 2 }, baseMask with { Step = 1UL << 32 | 1 } })
            Assert.NotEqual(reference, Bits(other));
        Assert.Equal(reference, Bits(baseMask with { P = 0.5 }));
    }
}
