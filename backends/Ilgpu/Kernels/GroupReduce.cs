using ILGPU;
using ILGPU.Algorithms;

namespace KernelLab.Backends.Ilgpu.Kernels;

/// <summary>
/// Reductions over a group that give every thread the result: each warp reduces its lanes with shuffles, the first
/// warp reduces the warps' partials from shared memory, and the result is broadcast through shared memory. The order
/// of the additions is fixed by the group's shape, so a result is the same on every run, and there are no atomics:
/// ILGPU.Algorithms' group reductions are not used because on the CPU accelerator their float maximum is a
/// compare-and-swap loop that never ends once a NaN is in it. Needs at most as many warps in a group as lanes in a warp
/// (the backend's group sizes: 256 threads in warps of 32, 4 in warps of 2).
/// </summary>
internal static class GroupReduce
{
    public static float Sum(float value) => AllReduce<float, Add>(value);

    /// <summary>The sum in float64, for sums of many terms (a batch norm channel's, a global norm's).</summary>
    public static double Sum(double value) => AllReduce<double, AddDouble>(value);

    /// <summary>The maximum; a NaN in the group gives NaN or is passed over, as the device's max instruction does.</summary>
    public static float Max(float value) => AllReduce<float, Maximum>(value);

    private interface IOperation<T>
    {
        T Identity { get; }

        T Apply(T a, T b);
    }

    private readonly struct Add : IOperation<float>
    {
        public float Identity => 0.0f;

        public float Apply(float a, float b) => a + b;
    }

    private readonly struct AddDouble : IOperation<double>
    {
        public double Identity => 0.0;

        public double Apply(double a, double b) => a + b;
    }

    private readonly struct Maximum : IOperation<float>
    {
        public float Identity => float.NegativeInfinity;

        public float Apply(float a, float b) => XMath.Max(a, b);
    }

    /// <summary>Warps per group at most (a group of 1024 threads in warps of 32).</summary>
    private const int MaxWarps = 32;

    private static T AllReduce<T, TOp>(T value) where T : unmanaged where TOp : struct, IOperation<T>
    {
        var op = default(TOp);
        var partials = SharedMemory.Allocate<T>(MaxWarps);
        value = WarpReduce(op, value);
        if (Warp.LaneIdx == 0)
            partials[Warp.WarpIdx] = value;
        Group.Barrier();
        if (Warp.WarpIdx == 0)
        {
            int warps = (Group.DimX * Group.DimY + Warp.WarpSize - 1) / Warp.WarpSize;
            value = WarpReduce(op, Warp.LaneIdx < warps ? partials[Warp.LaneIdx] : op.Identity);
            if (Warp.LaneIdx == 0)
                partials[0] = value;
        }
        Group.Barrier();
        T result = partials[0];
        Group.Barrier(); // the partials can be written again by the next reduction
        return result;
    }

    /// <summary>Lane 0 gets the warp's reduction.</summary>
    private static T WarpReduce<T, TOp>(TOp op, T value) where T : unmanaged where TOp : struct, IOperation<T>
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
            value = op.Apply(value, Warp.ShuffleDown(value, offset));
        return value;
    }
}
