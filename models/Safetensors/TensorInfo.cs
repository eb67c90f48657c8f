namespace KernelLab.Models.Safetensors;

/// <summary>One tensor's header entry: its name, element type and shape (row-major, outermost first).</summary>
public sealed record TensorInfo(string Name, DType DType, IReadOnlyList<long> Shape)
{
    public IReadOnlyList<long> Shape { get; } = ValidShape(Shape);

    /// <summary>The product of the dimensions; 1 for a 0-dim tensor (shape []).</summary>
    public long ElementCount { get; } = TryCountElements(Shape, out long count)
        ? count
        : throw new ArgumentException($"shape {FormatShape(Shape)} has more than {long.MaxValue} elements", nameof(Shape));

    /// <summary>The one way shapes are printed in messages: "[64, 784]", "[]" for a 0-dim tensor.</summary>
    public static string FormatShape(ReadOnlySpan<long> shape)
    {
        var text = new System.Text.StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
            text.Append(i == 0 ? "" : ", ").Append(shape[i]);
        return text.Append(']').ToString();
    }

    public static string FormatShape(IReadOnlyList<long> shape) => FormatShape(shape.ToArray());

    /// <summary>False when the product of non-negative <paramref name="shape"/> overflows a long.</summary>
    internal static bool TryCountElements(IReadOnlyList<long> shape, out long count)
    {
        count = 1;
        // A zero dimension makes the product 0 however large the others are.
        if (shape.Contains(0))
        {
            count = 0;
            return true;
        }
        foreach (long d in shape)
        {
            if (count > long.MaxValue / d)
                return false;
            count *= d;
        }
        return true;
    }

    public override string ToString() => $"{Name} {DType} {FormatShape(Shape)}";

    private static long[] ValidShape(IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long[] copy = [.. shape];
        if (copy.Any(d => d < 0))
            throw new ArgumentException($"shape {FormatShape(copy)} has a negative dimension", nameof(shape));
        return copy;
    }
}
