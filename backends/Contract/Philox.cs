namespace KernelLab.Backends;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011; Random123's philox4x32 with
/// 10 rounds): a counter-based generator, so any element's random word is a pure function of its counter and key and
/// every backend can draw it where it needs it, in any order, and get the same bits. The kernels of kernels/ and
/// backends/Ilgpu write the same rounds; the tests check this one against Random123's known-answer vectors.
/// </summary>
public static class Philox
{
    public const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57; // round multipliers
    public const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85; // key schedule (Weyl) increments

    /// <summary>The four output words of counter (c0, c1, c2, c3) under key (k0, k1).</summary>
    public static (uint, uint, uint, uint) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            (c0, c1, c2, c3) = ((uint)(p1 >> 32) ^ c1 ^ k0, (uint)p1, (uint)(p0 >> 32) ^ c3 ^ k1, (uint)p0);
        }
        return (c0, c1, c2, c3);
    }
}
