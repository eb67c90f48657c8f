using KernelLab.Backends;
using KernelLab.Models.Layers;

namespace KernelLab.Models.Networks;

/// <summary>
/// A GPT-2 style pre-LayerNorm decoder: x = wte[idx] + wpe[0..T-1]; per block x += attn_proj(attention(
/// attn_qkv(ln1(x)))) and x += mlp_proj(gelu(mlp_fc(ln2(x)))); logits = lm_head(ln_f(x)). Rows are b * T + t. With dropout,
/// nn.Dropout acts on wte[idx] + wpe (site 0) and on block i's attn_proj and mlp_proj outputs before each residual add
/// (sites 1 + 2i and 2 + 2i), as GPT-2's embd and resid dropout.
/// </summary>
public sealed class Transformer : Network
{
    private readonly TransformerConfig _config;
    private readonly DeviceIndexBuffer _ids;        // [B, T]
    private readonly Embedding _wte;                // [B, T, d]: token embedding, then the residual stream's start
    private readonly Parameter _wpe;                // [context, d]
    private readonly Dropout? _embedDropout;
    private readonly TransformerBlock[] _blocks;
    private readonly LayerNorm _lnF;
    private readonly Linear _lmHead;                // [B, T, vocab]
    private readonly DeviceBuffer _dStream;         // [B, T, d]: gradient of the residual stream
    private readonly BlockScratch _scratch;

    public Transformer(Backend backend, TransformerConfig config, BatchShape shape)
        : base(backend, config, shape)
    {
        _config = config;
        int d = config.DModel;
        _ids = AllocateIndices(Rows);
        _wte = Own(new Embedding(backend, Parameters, "wte", config.Vocab, d, Rows));
        _wpe = Parameters.Add("wpe.weight", new Init.Normal(), config.Context, d);
        var attention = new AttentionShape(shape.Batch, shape.Steps, d, config.Heads);
        _embedDropout = config.Dropout > 0 ? Own(new Dropout(backend, config.Dropout, 0, (long)Rows * d)) : null;
        _blocks = Enumerable.Range(0, config.Layers).Select(i => Own(new TransformerBlock(backend, Parameters, i, config, attention))).ToArray();
        _lnF = Own(new LayerNorm(backend, Parameters, "ln_f", d, Rows));
        _lmHead = Own(new Linear(backend, Parameters, "lm_head", d, config.Vocab, Rows, bias: false));
        _dStream = Allocate((long)Rows * d);
        _scratch = Own(new BlockScratch(backend, config, Rows));
    }

    private long PositionsLength => (long)Shape.Steps * _config.DModel; // wpe[0..T-1], [T, d]

    private DeviceView BlockInput(int i) => i == 0 ? _wte.Output : _blocks[i - 1].Output;

    protected override void LoadInputs(Batch batch) => Backend.CopyIn(_ids, batch.Tokens);

    protected override void Forward(ForwardMode mode)
    {
        _wte.Forward(_ids);
        // wpe[0..T-1] is a bias over the [B, T*d] view of the stream.
        Backend.AddBias(_wte.Output, _wpe.Value.Slice(0, PositionsLength), Shape.Batch, (int)PositionsLength, 1);
        _embedDropout?.Forward(_wte.Output, mode);
        for (int i = 0; i < _blocks.Length; i++)
            _blocks[i].Forward(BlockInput(i), mode);
        _lnF.Forward(_blocks[^1].Output);
        _lmHead.Forward(_lnF.Output);
        Loss.Forward(_lmHead.Output, Targets);
    }

    protected override void Backward(DeviceView dLogits)
    {
        _lmHead.Backward(_lnF.Output, dLogits, _scratch.DNorm);
        _lnF.Backward(_blocks[^1].Output, _scratch.DNorm, _dStream);
        for (int i = _blocks.Length - 1; i >= 0; i--)
            _blocks[i].Backward(BlockInput(i), _dStream, _scratch);
        _embedDropout?.Backward(_dStream, _dStream);
        _wte.Backward(_ids, _dStream);
        Backend.Fill(_wpe.Grad, 0f); // rows T..context get no gradient
        Backend.BiasBackward(_dStream, _wpe.Grad.Slice(0, PositionsLength), Shape.Batch, (int)PositionsLength, 1);
    }

    /// <summary>Gradient buffers that every block uses in turn.</summary>
    private sealed class BlockScratch(Backend backend, TransformerConfig c, int rows) : IDisposable
    {
        public DeviceBuffer DNorm { get; } = backend.Allocate((long)rows * c.DModel);       // [rows, d]
        public DeviceBuffer DBranch { get; } = backend.Allocate((long)rows * c.DModel);     // [rows, d]
        public DeviceBuffer DAttention { get; } = backend.Allocate((long)rows * c.DModel);  // [rows, d]
        public DeviceBuffer DQkv { get; } = backend.Allocate((long)rows * 3 * c.DModel);    // [rows, 3d]
        public DeviceBuffer DHidden { get; } = backend.Allocate((long)rows * c.Ffn);        // [rows, ffn]
        public DeviceBuffer? DDropped { get; } = c.Dropout > 0 ? backend.Allocate((long)rows * c.DModel) : null; // [rows, d]: a branch's output gradient through its dropout

        public void Dispose()
        {
            foreach (var b in new[] { DNorm, DBranch, DAttention, DQkv, DHidden, DDropped })
                b?.Dispose();
        }
    }

    private sealed class TransformerBlock : IDisposable
    {
        private readonly Backend _backend;
        private readonly long _n;                  // rows * d
        private readonly LayerNorm _ln1, _ln2;
        private readonly Linear _qkv, _proj, _fc, _mlpProj;
        private readonly CausalSelfAttention _attention;
        private readonly ActivationLayer _gelu;
        private readonly Dropout? _attentionDropout, _mlpDropout; // on attn_proj's and mlp_proj's outputs
        private readonly DeviceBuffer _mid;        // [rows, d]: x + attention branch

        public TransformerBlock(Backend backend, ParameterSet parameters, int index, TransformerConfig c, AttentionShape s)
        {
            _backend = backend;
            string name = $"h.{index}";
            int rows = s.Batch * s.T, d = c.DModel;
            _n = (long)rows * d;
            _ln1 = new LayerNorm(backend, parameters, $"{name}.ln1", d, rows);
            _qkv = new Linear(backend, parameters, $"{name}.attn_qkv", d, 3 * d, rows);
            _attention = new CausalSelfAttention(backend, s);
            _proj = new Linear(backend, parameters, $"{name}.attn_proj", d, d, rows);
            _ln2 = new LayerNorm(backend, parameters, $"{name}.ln2", d, rows);
            _fc = new Linear(backend, parameters, $"{name}.mlp_fc", d, c.Ffn, rows);
            _gelu = new ActivationLayer(backend, Activation.GeluTanh, (long)rows * c.Ffn);
            _mlpProj = new Linear(backend, parameters, $"{name}.mlp_proj", c.Ffn, d, rows);
            if (c.Dropout > 0)
            {
                _attentionDropout = new Dropout(backend, c.Dropout, (uint)(1 + 2 * index), _n);
                _mlpDropout = new Dropout(backend, c.Dropout, (uint)(2 + 2 * index), _n);
            }
            _mid = backend.Allocate(_n);
            Output = backend.Allocate(_n);
        }

        public DeviceBuffer Output { get; } // [rows, d]

        public void Forward(DeviceView x, ForwardMode mode)
        {
            _ln1.Forward(x);
            _qkv.Forward(_ln1.Output);
            _attention.Forward(_qkv.Output);
            _proj.Forward(_attention.Output);
            _attentionDropout?.Forward(_proj.Output, mode);
            _backend.Add(x, _proj.Output, _mid, _n);
            _ln2.Forward(_mid);
            _fc.Forward(_ln2.Output);
            _gelu.Forward(_fc.Output);
            _mlpProj.Forward(_gelu.Output);
            _mlpDropout?.Forward(_mlpProj.Output, mode);
            _backend.Add(_mid, _mlpProj.Output, Output, _n);
        }

        /// <summary>The gradient of a branch's output: dStream itself, or through the branch's dropout into the scratch buffer.</summary>
        private DeviceView BranchGrad(Dropout? dropout, DeviceView dStream, BlockScratch s)
        {
            if (dropout is null)
                return dStream;
            dropout.Backward(dStream, s.DDropped!);
            return s.DDropped!;
        }

        /// <summary>dStream holds the gradient of this block's output on entry and of its input on return.</summary>
        public void Backward(DeviceView x, DeviceView dStream, BlockScratch s)
        {
            // MLP branch; the residual passes dStream through unchanged.
            _mlpProj.Backward(_gelu.Output, BranchGrad(_mlpDropout, dStream, s), s.DHidden);
            _gelu.Backward(_fc.Output, s.DHidden, s.DHidden);
            _fc.Backward(_ln2.Output, s.DHidden, s.DNorm);
            _ln2.Backward(_mid, s.DNorm, s.DBranch);
            _backend.Add(dStream, s.DBranch, dStream, _n);
            // Attention branch.
            _proj.Backward(_attention.Output, BranchGrad(_attentionDropout, dStream, s), s.DAttention);
            _attention.Backward(_qkv.Output, s.DAttention, s.DQkv);
            _qkv.Backward(_ln1.Output, s.DQkv, s.DNorm);
            _ln1.Backward(x, s.DNorm, s.DBranch);
            _backend.Add(dStream, s.DBranch, dStream, _n);
        }

        public void Dispose()
        {
            foreach (var d in new IDisposable?[] { _ln1, _qkv, _attention, _proj, _ln2, _fc, _gelu, _mlpProj, _attentionDropout, _mlpDropout, _mid, Output })
                d?.Dispose();
        }
    }
}
