namespace KernelLab.Models.Safetensors;

/// <summary>The safetensors element types KernelLab reads and writes; the names are the header's.</summary>
public enum DType { F32, F64, I64, I32 }

internal static class DTypes
{
    public static int Size(DType dtype) => dtype switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F64 or DType.I64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Exact, case-sensitive header names only (Enum.TryParse would also take "0" or "f32").</summary>
    public static bool TryParse(string name, out DType dtype)
    {
        switch (name)
        {
            case "F32": dtype = DType.F32; return true;
            case "F64": dtype = DType.F64; return true;
            case "I64": dtype = DType.I64; return true;
            case "I32": dtype = DType.I32; return true;
            default: dtype = default; return false;
        }
    }
}
