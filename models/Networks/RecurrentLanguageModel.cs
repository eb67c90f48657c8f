using KernelLab.Backends;
using KernelLab.Models.Layers;

namespace KernelLab.Models.Networks;

/// <summary>
/// embed, a stack of LSTM or GRU layers (the lstm and gru families) with zero initial state, and head on every step:
/// token ids [B, T] to logits for the next token. Inside, rows are time-major (t * B + b): ids and targets are reordered on upload.
/// </summary>
public sealed class RecurrentLanguageModel : Network
{
    private readonly DeviceIndexBuffer _ids;        // [T, B]
    private readonly Embedding _embed;              // [T, B, embed]
    private readonly RecurrentLayer[] _layers;     // each [T, B, hidden]
    private readonly Linear _head;                  // [T, B, vocab]
    private readonly DeviceBuffer _dEmbed;          // [T, B, embed]
    private readonly DeviceBuffer[] _dOutputs;      // [T, B, hidden] per layer
    private readonly int[] _timeMajor;              // host staging for the reordering

    public RecurrentLanguageModel(Backend backend, RecurrentConfig config, BatchShape shape)
        : base(backend, config, shape)
    {
        _ids = AllocateIndices(Rows);
        _embed = Own(new Embedding(backend, Parameters, "embed", config.Vocab, config.Embed, Rows));
        _layers = Enumerable.Range(0, config.Layers)
            .Select(k => Own(Layer(backend, config, k, shape)))
            .ToArray();
        _head = Own(new Linear(backend, Parameters, "head", config.Hidden, config.Vocab, Rows));
        _dEmbed = Allocate((long)Rows * config.Embed);
        _dOutputs = _layers.Select(_ => Allocate((long)Rows * config.Hidden)).ToArray();
        _timeMajor = new int[Rows];
    }

    private RecurrentLayer Layer(Backend backend, RecurrentConfig config, int k, BatchShape shape)
    {
        int inFeatures = k == 0 ? config.Embed : config.Hidden;
        return config is GruConfig
            ? new GruLayer(backend, Parameters, k, inFeatures, config.Hidden, shape.Batch, shape.Steps)
            : new LstmLayer(backend, Parameters, k, inFeatures, config.Hidden, shape.Batch, shape.Steps);
    }

    private DeviceView LayerInput(int k) => k == 0 ? _embed.Output : _layers[k - 1].Output;

    private DeviceView LayerInputGrad(int k) => k == 0 ? _dEmbed : _dOutputs[k - 1];

    protected override void LoadInputs(Batch batch) => Backend.CopyIn(_ids, ToTimeMajor(batch.Tokens!));

    protected override ReadOnlySpan<int> ArrangeTargets(int[] targets) => ToTimeMajor(targets);

    // [B, T] (batch_first) to [T, B].
    private int[] ToTimeMajor(int[] batchMajor)
    {
        int b = Shape.Batch, t = Shape.Steps;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++)
                _timeMajor[j * b + i] = batchMajor[i * t + j];
        return _timeMajor;
    }

    protected override void Forward(ForwardMode mode)
    {
        _embed.Forward(_ids);
        for (int k = 0; k < _layers.Length; k++)
            _layers[k].Forward(LayerInput(k));
        _head.Forward(_layers[^1].Output);
        Loss.Forward(_head.Output, Targets);
    }

    protected override void Backward(DeviceView dLogits)
    {
        _head.Backward(_layers[^1].Output, dLogits, _dOutputs[^1]);
        for (int k = _layers.Length - 1; k >= 0; k--)
            _layers[k].Backward(LayerInput(k), _dOutputs[k], LayerInputGrad(k));
        _embed.Backward(_ids, _dEmbed);
    }
}
