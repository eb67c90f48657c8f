using KernelLab.Backends;
using KernelLab.Backends.Reference;
using KernelLab.Models;
using KernelLab.Models.Networks;

namespace KernelLab.Tests;

/// <summary>The memory plan that every network is checked against before it allocates, and the one element-count check.</summary>
public sealed class MemoryPlanTests
{
    private static readonly MlpConfig Mlp = new([4, 8, 3]);

    [Fact]
    public void CountsParametersStateAndActivationsOfAnMlp()
    {
        var adam = OptimizerSettings.Defaults(OptimizerKind.Adam, 1e-3);
        var plan = MemoryPlan.For(Mlp, new BatchShape(2), adam, Precision.Float64);
        long parameters = 4 * 8 + 8 + 8 * 3 + 3; // fc1.weight, fc1.bias, fc2.weight, fc2.bias
        Assert.Equal(parameters * 8, plan.ParameterBytes);
        Assert.Equal(2 * parameters * 8, plan.OptimizerStateBytes); // exp_avg, exp_avg_sq
        Assert.True(plan.ActivationBytes > 0);
        Assert.Equal(2 * plan.ParameterBytes + plan.OptimizerStateBytes + plan.ActivationBytes, plan.DeviceBytes);
        Assert.Equal(plan.ParameterBytes / 2, MemoryPlan.For(Mlp, new BatchShape(2), adam, Precision.Float32).ParameterBytes);
    }

    [Fact]
    public void CountsEveryActivationBufferOfAnMlp()
    {
        // Batch 2 of [4, 8, 3]: x [2, 4], fc1's output [2, 8], its ReLU [2, 8], fc2's output (the logits) [2, 3], the hidden
        // gradient [2, 8], the loss [1] and its gradient dLogits [2, 3] in float64, and the targets [2] as int32. The fused
        // softmax cross-entropy keeps no probabilities [2, 3].
        long doubles = 2 * 4 + 2 * 8 + 2 * 8 + 2 * 3 + 2 * 8 + 1 + 2 * 3;
        Assert.Equal(doubles * sizeof(double) + 2 * sizeof(int), MemoryPlan.For(Mlp, new BatchShape(2), null, Precision.Float64).ActivationBytes);
    }

    [Fact]
    public void ActivationsGrowWithTheBatch()
    {
        var small = MemoryPlan.For(Mlp, new BatchShape(2), null, Precision.Float32);
        var large = MemoryPlan.For(Mlp, new BatchShape(200), null, Precision.Float32);
        Assert.Equal(small.ParameterBytes, large.ParameterBytes);
        Assert.Equal(0, small.OptimizerStateBytes);
        Assert.True(large.ActivationBytes > 50 * small.ActivationBytes, $"{small.ActivationBytes} -> {large.ActivationBytes}");
    }

    [Fact]
    public void PlanMatchesWhatTheReferenceBackendAllocates()
    {
        using var counting = new AllocationCounter();
        using var network = Network.Create(counting, Mlp, new BatchShape(5));
        var plan = MemoryPlan.For(Mlp, new BatchShape(5), null, Precision.Float64);
        Assert.Equal(counting.Bytes, plan.DeviceBytes);
    }

    [Fact]
    public void CheckGivesBothFigures()
    {
        var plan = MemoryPlan.For(Mlp, new BatchShape(2), null, Precision.Float32);
        plan.Check("cpu-simd", onHost: true, deviceAvailable: 0, hostAvailable: plan.DeviceBytes + plan.HostStagingBytes);
        var onHost = Assert.Throws<KernelLabException>(() => plan.Check("cpu-simd", onHost: true, 0, plan.DeviceBytes));
        Assert.Contains("a mlp model at batch 2 needs at least", onHost.Message);
        Assert.Contains($"but the machine has {HostMemory.Format(plan.DeviceBytes)} available", onHost.Message);
        var onDevice = Assert.Throws<KernelLabException>(() => plan.Check("cuda", onHost: false, 100, long.MaxValue));
        Assert.Contains("of device memory on cuda", onDevice.Message);
        Assert.Contains("but the device has 100 B available", onDevice.Message);
    }

    [Theory]
    [InlineData(new long[] { 3, 5 }, 15)]
    [InlineData(new long[] { }, 1)]
    [InlineData(new long[] { 0, 4000000000 }, 0)]
    [InlineData(new long[] { 46341, 46341 }, 2147488281L)]
    public void TensorLengthCountsAndBounds(long[] shape, long count)
    {
        if (count <= TensorLength.Max)
        {
            Assert.Equal(count, TensorLength.Of("t", shape));
            return;
        }
        var e = Assert.Throws<KernelLabException>(() => TensorLength.Of("tensor 'w'", shape));
        Assert.Contains("tensor 'w' of shape [46341, 46341] has 2,147,488,281 elements, more than one tensor can hold", e.Message);
    }

    [Fact]
    public void TensorLengthNamesAnOverflowPast2Pow63()
    {
        var e = Assert.Throws<KernelLabException>(() => TensorLength.Of("x", 1L << 40, 1L << 40));
        Assert.Contains("more than 2^63 elements", e.Message);
    }

    /// <summary>The reference backend, counting the bytes of every buffer it allocates.</summary>
    private sealed class AllocationCounter : ReferenceBackend
    {
        public long Bytes { get; private set; }

        protected override DeviceBuffer AllocateCore(long length)
        {
            Bytes += length * sizeof(double);
            return base.AllocateCore(length);
        }

        protected override DeviceIndexBuffer AllocateIndicesCore(long length)
        {
            Bytes += length * sizeof(int);
            return base.AllocateIndicesCore(length);
        }
    }
}
