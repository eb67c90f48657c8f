using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;

namespace KernelLab.Backends.CpuSimd;

/// <summary>
/// The vector widths cpu-simd's kernels run, decided once per process. Vector256 and Vector128 are the runtime's
/// (DOTNET_EnableAVX2=0 and DOTNET_EnableHWIntrinsic=0 turn them off). Vector512 is used where the runtime accelerates
/// it, or where <see cref="EmulateVariable"/> asks for it on a CPU without: the runtime then runs each Vector512 op as
/// two Vector256 halves (about the Vector256 rate on an AVX2 machine), so that the Vector512 code's tails, packing and
/// indexing are checked on any machine. The fields are read once the class is initialised, which the backend's
/// constructor does first: the JIT then folds them into the kernels as constants.
/// </summary>
internal static class SimdTier
{
    public const string EmulateVariable = "KERNELLAB_CPU_SIMD_EMULATE_VECTOR512";

    // A bad value must not throw here (a TypeInitializationException from the first kernel); the constructor says it.
    private static readonly (bool Emulate, string? Error) Setting = ParseEmulate(Environment.GetEnvironmentVariable(EmulateVariable));

    /// <summary>Whether the kernels use Vector512, accelerated or emulated.</summary>
    public static readonly bool Vector512 = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated || Setting.Emulate;

    /// <summary>The widest code path the kernels run, e.g. avx512f+fma, avx2+fma, vector128 or scalar.</summary>
    public static readonly string Name = Describe(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, Setting.Emulate,
        Vector256.IsHardwareAccelerated, Fma.IsSupported, Vector128.IsHardwareAccelerated);

    /// <summary>What the device's vector512 property says: True (the CPU's), emulated, or False.</summary>
    public static string Vector512State => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? bool.TrueString : Vector512 ? "emulated" : bool.FalseString;

    /// <summary>Throws the one line that says what is wrong with <see cref="EmulateVariable"/>'s value, if anything.</summary>
    public static void ThrowIfInvalid()
    {
        if (Setting.Error is { } error)
            throw new KernelLabException(error);
    }

    /// <summary>Unset, empty or "0": no emulation; "1": emulate Vector512; anything else is the error message.</summary>
    public static (bool Emulate, string? Error) ParseEmulate(string? text) => text switch
    {
        null or "" or "0" => (false, null),
        "1" => (true, null),
        _ => (false, $"{EmulateVariable}='{text}': expected 1 (run cpu-simd's Vector512 kernels, emulated where the CPU has no AVX-512), or 0 or unset (not)"),
    };

    public static string Describe(bool vector512Accelerated, bool emulate, bool vector256, bool fma, bool vector128) =>
        vector512Accelerated ? "avx512f+fma"
        : emulate ? $"vector512 emulated ({EmulateVariable}=1)"
        : vector256 && fma ? "avx2+fma"
        : vector256 ? "avx2"
        : vector128 ? "vector128"
        : "scalar";
}
