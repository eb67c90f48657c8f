using KernelLab.Backends;
using KernelLab.Models.Networks;

namespace KernelLab.Models;

/// <summary>
/// What a network of a config needs in memory, known before anything is allocated: the network is built once on a
/// backend that only counts what it is asked to allocate (networks allocate every buffer when they are built, so a
/// training step allocates nothing), and the optimizer's state follows from the parameters. The figures leave out a
/// backend's own scratch (packing buffers, workspaces), so they are the least that a run needs.
/// </summary>
public sealed record MemoryPlan(string Model, long ParameterBytes, long OptimizerStateBytes, long ActivationBytes, long HostStagingBytes)
{
    /// <summary>Parameters, their gradients, the optimizer's state, and activations with their gradients.</summary>
    public long DeviceBytes => 2 * ParameterBytes + OptimizerStateBytes + ActivationBytes;

    /// <summary>Counts what <see cref="Network.Create"/> of this config would allocate on a backend of <paramref name="precision"/>.</summary>
    public static MemoryPlan For(ModelConfig config, BatchShape shape, OptimizerSettings? optimizer, Precision precision)
    {
        string model = $"a {config.Family} model at batch {shape.Batch}";
        using var counter = new CountingBackend(model, precision);
        long parameters;
        using (var network = Network.Build(counter, config, shape))
            parameters = network.Parameters.All.Sum(p => p.Length);
        int size = precision == Precision.Float64 ? sizeof(double) : sizeof(float);
        long parameterBytes = parameters * size;
        long stateBytes = (optimizer?.StateCount ?? 0) * parameterBytes;
        // The host holds the parameters as float32 while they are initialised or read, and the batch as float64 or ids.
        long rows = (long)shape.Batch * shape.Steps;
        long batchBytes = config.IsSequence ? 2 * rows * sizeof(int) : rows * (config.InputLength * sizeof(double) + sizeof(int));
        return new MemoryPlan(model, parameterBytes, stateBytes,
            counter.Bytes - 2 * parameterBytes, parameters * sizeof(float) + batchBytes);
    }

    /// <summary>Throws one line with both figures when <paramref name="backend"/> or the host has less memory free than this plan needs.</summary>
    public void Check(Backend backend) => Check(backend.Name, backend.Info.Kind == "cpu", backend.AvailableMemoryBytes, HostMemory.AvailableBytes());

    /// <param name="onHost">The backend's buffers are host memory (its device is the host CPU).</param>
    public void Check(string backend, bool onHost, long deviceAvailable, long hostAvailable)
    {
        string parts = $"parameters {HostMemory.Format(ParameterBytes)}, gradients {HostMemory.Format(ParameterBytes)}, " +
            $"optimizer state {HostMemory.Format(OptimizerStateBytes)}, activations {HostMemory.Format(ActivationBytes)}";
        if (onHost && DeviceBytes + HostStagingBytes > hostAvailable)
            throw new KernelLabException($"{Model} needs at least {HostMemory.Format(DeviceBytes + HostStagingBytes)} of memory on {backend} " +
                $"({parts}, host copies {HostMemory.Format(HostStagingBytes)}), but the machine has {HostMemory.Format(hostAvailable)} available");
        if (!onHost && DeviceBytes > deviceAvailable)
            throw new KernelLabException($"{Model} needs at least {HostMemory.Format(DeviceBytes)} of device memory on {backend} ({parts}), " +
                $"but the device has {HostMemory.Format(deviceAvailable)} available");
        if (!onHost && HostStagingBytes > hostAvailable)
            throw new KernelLabException($"{Model} needs at least {HostMemory.Format(HostStagingBytes)} of host memory for its parameters and batch, " +
                $"but the machine has {HostMemory.Format(hostAvailable)} available");
    }

    /// <summary>A backend that allocates nothing and counts the bytes it was asked for; it runs no op (a network only allocates when it is built).</summary>
    private sealed class CountingBackend(string model, Precision precision) : Backend
    {
        public long Bytes { get; private set; }

        /// <summary>What a buffer too large for one tensor is named after: "a cnn model at batch 1: a buffer of shape ...".</summary>
        public override string Name => model;

        public override DeviceInfo Info { get; } = new("memory plan", "KernelLab", "cpu", 1, 0, precision, new Dictionary<string, string>());

        private int Size => precision == Precision.Float64 ? sizeof(double) : sizeof(float);

        public override void Synchronize() { }

        public override IDeviceTimer CreateTimer() => throw NoOps();

        public override void Dispose() { }

        protected override DeviceBuffer AllocateCore(long length)
        {
            Bytes += length * Size;
            return new Counted(this, length);
        }

        protected override DeviceIndexBuffer AllocateIndicesCore(long length)
        {
            Bytes += length * sizeof(int);
            return new CountedIndices(this, length);
        }

        private sealed class Counted(Backend owner, long length) : DeviceBuffer(owner, length)
        {
            public override void Dispose() { }
        }

        private sealed class CountedIndices(Backend owner, long length) : DeviceIndexBuffer(owner, length)
        {
            public override void Dispose() { }
        }

        private static InvalidOperationException NoOps() => new("a memory plan runs no ops");

        protected override void FillCore(DeviceView y, double value) { } // buffers that start filled (an LSTM's zero state)
        protected override void CopyInCore(DeviceView destination, ReadOnlySpan<float> source) => throw NoOps();
        protected override void CopyInCore(DeviceIndexBuffer destination, ReadOnlySpan<int> source) => throw NoOps();
        protected override void CopyOutCore(DeviceView source, Span<float> destination) => throw NoOps();
        protected override void AddCore(DeviceView a, DeviceView b, DeviceView y, long n) => throw NoOps();
        protected override void ActivationForwardCore(Activation f, DeviceView x, DeviceView y, long n) => throw NoOps();
        protected override void ActivationBackwardCore(Activation f, DeviceView x, DeviceView y, DeviceView dy, DeviceView dx, long n) => throw NoOps();
        protected override void GemmCore(bool transposeA, bool transposeB, int m, int n, int k, DeviceView a, DeviceView b, DeviceView c, double alpha, bool accumulate) => throw NoOps();
        protected override void AddBiasCore(DeviceView y, DeviceView bias, int outer, int channels, int inner) => throw NoOps();
        protected override void BiasBackwardCore(DeviceView dy, DeviceView dBias, int outer, int channels, int inner, bool accumulate) => throw NoOps();
        protected override void Conv2dForwardCore(DeviceView x, DeviceView w, DeviceView y, Conv2dShape s) => throw NoOps();
        protected override void Conv2dBackwardDataCore(DeviceView dy, DeviceView w, DeviceView dx, Conv2dShape s) => throw NoOps();
        protected override void Conv2dBackwardWeightCore(DeviceView x, DeviceView dy, DeviceView dw, Conv2dShape s) => throw NoOps();
        protected override void MaxPool2dForwardCore(DeviceView x, DeviceView y, DeviceIndexBuffer argMax, Pool2dShape s) => throw NoOps();
        protected override void MaxPool2dBackwardCore(DeviceView dy, DeviceIndexBuffer argMax, DeviceView dx, Pool2dShape s) => throw NoOps();
        protected override void EmbeddingForwardCore(DeviceIndexBuffer ids, DeviceView table, DeviceView y, int count, int vocab, int dim) => throw NoOps();
        protected override void EmbeddingBackwardCore(DeviceIndexBuffer ids, DeviceView dy, DeviceView dTable, int count, int vocab, int dim) => throw NoOps();
        protected override void LstmCellForwardCore(DeviceView preact, DeviceView cPrev, DeviceView gates, DeviceView c, DeviceView h, int batch, int hidden) => throw NoOps();
        protected override void LstmCellBackwardCore(DeviceView gates, DeviceView cPrev, DeviceView c, DeviceView dh, DeviceView dc, DeviceView dPreact, DeviceView dcPrev, int batch, int hidden) => throw NoOps();
        protected override void LayerNormForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd, int rows, int cols, double eps) => throw NoOps();
        protected override void LayerNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias, int rows, int cols) => throw NoOps();
        protected override void AttentionForwardCore(DeviceView qkv, DeviceView y, DeviceView probabilities, AttentionShape s) => throw NoOps();
        protected override void AttentionBackwardCore(DeviceView dy, DeviceView qkv, DeviceView probabilities, DeviceView dQkv, AttentionShape s) => throw NoOps();
        protected override void SoftmaxCrossEntropyCore(DeviceView logits, DeviceIndexBuffer targets, DeviceView loss, DeviceView dLogits, int rows, int classes) => throw NoOps();
        protected override void DropoutForwardCore(DeviceView x, DeviceView mask, DeviceView y, long n, DropoutMask m) => throw NoOps();
        protected override void DropoutBackwardCore(DeviceView dy, DeviceView mask, DeviceView dx, long n) => throw NoOps();
        protected override void GruCellForwardCore(DeviceView gi, DeviceView gh, DeviceView hPrev, DeviceView gates, DeviceView h, int batch, int hidden) => throw NoOps();
        protected override void GruCellBackwardCore(DeviceView gates, DeviceView gh, DeviceView hPrev, DeviceView dh, DeviceView dGi, DeviceView dGh, DeviceView dhPrev, int batch, int hidden) => throw NoOps();
        protected override void BatchNormTrainingForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView y, DeviceView mean, DeviceView rstd,
            DeviceView runningMean, DeviceView runningVar, int outer, int channels, int inner, double eps, double momentum) => throw NoOps();
        protected override void BatchNormEvalForwardCore(DeviceView x, DeviceView weight, DeviceView bias, DeviceView runningMean, DeviceView runningVar, DeviceView y,
            int outer, int channels, int inner, double eps) => throw NoOps();
        protected override void BatchNormBackwardCore(DeviceView dy, DeviceView x, DeviceView weight, DeviceView mean, DeviceView rstd, DeviceView dx, DeviceView dWeight, DeviceView dBias,
            int outer, int channels, int inner) => throw NoOps();
        protected override void SumReduceCore(Reduction f, DeviceView x, long n, DeviceView result, double alpha, bool accumulate) => throw NoOps();
        protected override void AddL1GradientCore(DeviceView param, DeviceView grad, long n, double lambda) => throw NoOps();
        protected override void ClipByNormCore(DeviceView x, long n, DeviceView sumSquares, double maxNorm) => throw NoOps();
        protected override void SgdStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView momentumBuffer) => throw NoOps();
        protected override void AdamStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView expAvg, DeviceView expAvgSq) => throw NoOps();
        protected override void RmsPropStepCore(OptimizerSettings s, DeviceView param, DeviceView grad, DeviceView squareAvg, DeviceView momentumBuffer, DeviceView gradAvg) => throw NoOps();
        protected override void AdagradStepCore(OptimizerSettings s, int step, DeviceView param, DeviceView grad, DeviceView stateSum) => throw NoOps();
    }
}
