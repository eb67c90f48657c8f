using KernelLab.Backends;

namespace KernelLab.Models.Layers;

/// <summary>nn.Embedding(vocab, dim) looked up for <c>count</c> ids: y [count, dim].</summary>
public sealed class Embedding(Backend backend, ParameterSet parameters, string name, int vocab, int dim, int count) : IDisposable
{
    public Parameter Table { get; } = parameters.Add($"{name}.weight", new Init.Normal(), vocab, dim);

    public DeviceBuffer Output { get; } = backend.Allocate((long)count * dim);

    public void Forward(DeviceIndexBuffer ids) => backend.EmbeddingForward(ids, Table.Value, Output, count, vocab, dim);

    public void Backward(DeviceIndexBuffer ids, DeviceView dy)
    {
        backend.Fill(Table.Grad, 0f);
        backend.EmbeddingBackward(ids, dy, Table.Grad, count, vocab, dim);
    }

    public void Dispose() => Output.Dispose();
}
