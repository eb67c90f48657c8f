namespace KernelLab.Backends;

/// <summary>
/// Element counts of tensors, computed and checked in one place. No tensor holds more than <see cref="Max"/>
/// elements: .NET arrays (the host copies of batches and parameters, the CPU backends' buffers) end there, and the
/// kernels index their buffers with 32-bit integers. A config that needs more is one line naming the tensor, before
/// anything is allocated, instead of an overflow deep in a backend.
/// </summary>
public static class TensorLength
{
    /// <summary><see cref="Array.MaxLength"/>: 2,147,483,591.</summary>
    public const long Max = 0x7FFFFFC7;

    /// <summary>The elements of a tensor of <paramref name="shape"/>; <paramref name="what"/> names it in the error ("parameter 'fc.weight'").</summary>
    public static long Of(string what, params ReadOnlySpan<long> shape)
    {
        long count = 1;
        bool overflow = false;
        foreach (long d in shape)
        {
            if (d < 0)
                throw new KernelLabException($"{what} has shape {Format(shape)}: negative dimension {d}");
            overflow |= d != 0 && count > long.MaxValue / d;
            count = overflow ? count : count * d;
        }
        if (overflow || count > Max)
            throw new KernelLabException($"{what} of shape {Format(shape)} has {(overflow ? "more than 2^63" : count.ToString("N0", System.Globalization.CultureInfo.InvariantCulture))} elements, more than one tensor can hold ({Max:N0}: .NET arrays and 32-bit kernel indices address no more)");
        return count;
    }

    /// <summary>The same check for a count computed elsewhere (a buffer's length).</summary>
    public static long Check(string what, long count) => Of(what, count);

    private static string Format(ReadOnlySpan<long> shape) => $"[{string.Join(", ", shape.ToArray())}]";
}
