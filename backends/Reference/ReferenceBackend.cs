namespace KernelLab.Backends.Reference;

/// <summary>
/// The specification: plain scalar loops over float64 buffers, written to be read, not to be fast.
/// Every other backend is compared with this one, and this one with finite differences and PyTorch.
/// The ops are in the other ReferenceBackend.*.cs files, one per group of ops. Not sealed: the suites' op recorder is a
/// reference backend that notes each op it runs.
/// </summary>
public partial class ReferenceBackend : Backend
{
    /// <summary>The registry's entry: always available, on the host CPU.</summary>
    public static BackendEntry Entry { get; } = new(
        "reference", "plain scalar C#, float64: the specification",
        Probe: () => Availability.Yes, Devices: HostCpu.Devices, Create: () => new ReferenceBackend());

    public override string Name => Entry.Name;

    public override DeviceInfo Info { get; } = new(
        Name: "host CPU (scalar, float64)",
        Vendor: "KernelLab",
        Kind: "cpu",
        ComputeUnits: 1,
        MemoryBytes: GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
        Precision: Precision.Float64,
        Properties: new Dictionary<string, string>());

    public override void Synchronize()
    {
    }

    public override IDeviceTimer CreateTimer() => new HostTimer(this);

    public override void Dispose()
    {
    }

    protected override DeviceBuffer AllocateCore(long length) => new HostBuffer(this, length);

    protected override DeviceIndexBuffer AllocateIndicesCore(long length) => new HostIndexBuffer(this, length);

    protected override void CopyInCore(DeviceView destination, ReadOnlySpan<float> source)
    {
        var d = Span(destination);
        for (int i = 0; i < source.Length; i++)
            d[i] = source[i];
    }

    protected override void CopyInCore(DeviceView destination, ReadOnlySpan<double> source) => source.CopyTo(Span(destination));

    protected override void CopyInCore(DeviceIndexBuffer destination, ReadOnlySpan<int> source) => source.CopyTo(Indices(destination));

    protected override void CopyOutCore(DeviceView source, Span<float> destination)
    {
        var s = Span(source);
        for (int i = 0; i < destination.Length; i++)
            destination[i] = (float)s[i];
    }

    protected override void CopyOutCore(DeviceView source, Span<double> destination) => Span(source).CopyTo(destination);

    private static Span<double> Span(DeviceView v) => ((HostBuffer)v.Buffer).Data.AsSpan(checked((int)v.Offset), checked((int)v.Length));

    private static Span<int> Indices(DeviceIndexBuffer b) => ((HostIndexBuffer)b).Data;

    private sealed class HostBuffer(Backend owner, long length) : DeviceBuffer(owner, length)
    {
        public double[] Data { get; } = new double[checked((int)length)];

        public override void Dispose()
        {
        }
    }

    private sealed class HostIndexBuffer(Backend owner, long length) : DeviceIndexBuffer(owner, length)
    {
        public int[] Data { get; } = new int[checked((int)length)];

        public override void Dispose()
        {
        }
    }
}
