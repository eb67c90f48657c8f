namespace KernelLab.Backends;

public enum Activation
{
    Relu,

    /// <summary>GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    GeluTanh,
    Sigmoid,
    Tanh,
}

/// <summary>A stride-1 convolution with padding k/2 over NCHW tensors: x [Batch, InChannels, Height, Width], w [OutChannels, InChannels, K, K], y [Batch, OutChannels, Height, Width].</summary>
public readonly record struct Conv2dShape(int Batch, int InChannels, int OutChannels, int Height, int Width, int KernelSize)
{
    public long InputLength => (long)Batch * InChannels * Height * Width;

    public long OutputLength => (long)Batch * OutChannels * Height * Width;

    public long WeightLength => (long)OutChannels * InChannels * KernelSize * KernelSize;
}

/// <summary>2x2 max pooling, stride 2, floor: x [Planes, Height, Width] to y [Planes, Height/2, Width/2].</summary>
public readonly record struct Pool2dShape(int Planes, int Height, int Width)
{
    public int OutHeight => Height / 2;

    public int OutWidth => Width / 2;

    public long InputLength => (long)Planes * Height * Width;

    public long OutputLength => (long)Planes * OutHeight * OutWidth;
}

/// <summary>Causal multi-head self-attention: qkv [Batch, T, 3*Channels] (q, k, v along features), y [Batch, T, Channels], probabilities [Batch, Heads, T, T].</summary>
public readonly record struct AttentionShape(int Batch, int T, int Channels, int Heads)
{
    public int HeadSize => Channels / Heads;

    public long QkvLength => (long)Batch * T * 3 * Channels;

    public long OutputLength => (long)Batch * T * Channels;

    public long ProbabilitiesLength => (long)Batch * Heads * T * T;
}

/// <summary>
/// The dropout mask of one site (<see cref="Site"/>: the network's dropout layers numbered in forward order) at one training
/// step, for the run's <see cref="Seed"/>. Element i of the site's tensor is kept when word i % 4 of
/// <see cref="Philox.Block"/>(counter (i / 4, Site, Step low, Step high), key (Seed low, Seed high)) is at least
/// <see cref="Threshold"/> = round(p 2^32), which happens with probability 1 - p; a kept element is scaled by
/// <see cref="Scale"/> = 1 / (1 - p), as nn.Dropout scales it, and a dropped one is 0. Integer arithmetic decides the
/// mask, so float32 and float64 backends draw the same bits.
/// </summary>
public readonly record struct DropoutMask(double P, ulong Seed, uint Site, ulong Step)
{
    public uint Threshold => (uint)Math.Min(uint.MaxValue, Math.Round(P * 4294967296.0));

    public double Scale => 1 / (1 - P);

    public uint Key0 => (uint)Seed;

    public uint Key1 => (uint)(Seed >> 32);

    public uint Step0 => (uint)Step;

    public uint Step1 => (uint)(Step >> 32);

    /// <summary>Whether element <paramref name="i"/> is kept (the host's and the reference's reading of the recipe).</summary>
    public bool Keeps(long i)
    {
        var (w0, w1, w2, w3) = Philox.Block((uint)(i >> 2), Site, Step0, Step1, Key0, Key1);
        uint word = (i & 3) switch { 0 => w0, 1 => w1, 2 => w2, _ => w3 };
        return word >= Threshold;
    }
}

/// <summary>What <see cref="Backend.SumReduce"/> sums: |x| (the L1 penalty) or x^2 (a squared L2 norm).</summary>
public enum Reduction
{
    SumAbs,
    SumSquares,
}

public enum OptimizerKind
{
    Sgd,
    Adam,
    AdamW,
    RmsProp,
    Adagrad,
}

/// <summary>
/// The hyper-parameters of torch.optim's optimizers, with PyTorch's defaults (see <see cref="Defaults"/>).
/// Fields that an optimizer does not use are ignored by it.
/// </summary>
public sealed record OptimizerSettings
{
    public required OptimizerKind Kind { get; init; }

    public required double LearningRate { get; init; }

    public double WeightDecay { get; init; }

    /// <summary>SGD and RMSprop.</summary>
    public double Momentum { get; init; }

    /// <summary>SGD.</summary>
    public double Dampening { get; init; }

    /// <summary>SGD.</summary>
    public bool Nesterov { get; init; }

    /// <summary>Adam and AdamW.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam and AdamW.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Adam, AdamW, RMSprop (1e-8) and Adagrad (1e-10).</summary>
    public double Eps { get; init; } = 1e-8;

    /// <summary>RMSprop's smoothing constant.</summary>
    public double Alpha { get; init; } = 0.99;

    /// <summary>RMSprop.</summary>
    public bool Centered { get; init; }

    /// <summary>Adagrad.</summary>
    public double LearningRateDecay { get; init; }

    /// <summary>Adagrad.</summary>
    public double InitialAccumulatorValue { get; init; }

    /// <summary>
    /// lambda of the L1 term lambda * sum |w| over every parameter of two or more dimensions, added to the loss (and lambda *
    /// sign(w) to its gradient) before the update; 0 for none. Not an update op's setting: the training step applies it.
    /// </summary>
    public double L1 { get; init; }

    /// <summary>torch.nn.utils.clip_grad_norm_'s max_norm over all gradients before the update, or null for no clipping.</summary>
    public double? ClipGradNorm { get; init; }

    /// <summary>How many state tensors of the parameter's size the optimizer keeps.</summary>
    public int StateCount => StateNames.Count;

    /// <summary>The state tensors, in the order the optimizer ops take them, named as torch.optim's state_dict names them.</summary>
    public IReadOnlyList<string> StateNames => Kind switch
    {
        OptimizerKind.Sgd => SgdState,
        OptimizerKind.Adam or OptimizerKind.AdamW => AdamState,
        OptimizerKind.RmsProp => RmsPropState,
        OptimizerKind.Adagrad => AdagradState,
        _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
    };

    // Made once: StateCount is read by every optimizer op, and a training step allocates nothing.
    private static readonly string[] SgdState = ["momentum_buffer"], AdamState = ["exp_avg", "exp_avg_sq"],
        RmsPropState = ["square_avg", "momentum_buffer", "grad_avg"], AdagradState = ["sum"];

    /// <summary>
    /// The first setting that torch.optim would refuse (lr, eps, momentum, weight_decay, betas, alpha, lr_decay below
    /// their bounds; nesterov without momentum or with dampening), an l1 below 0 or a clip_grad_norm not above 0, or a
    /// setting that is NaN or infinite, named by torch.optim's
    /// keyword; null when every setting is valid.
    /// </summary>
    public (string Field, string Value, string Expected)? Invalid()
    {
        static string V(double x) => x.ToString(System.Globalization.CultureInfo.InvariantCulture);
        (string, double, double, bool)[] bounded = // keyword, value, least value, upper bound (1) excluded
        [
            ("lr", LearningRate, 0, false), ("weight_decay", WeightDecay, 0, false), ("momentum", Momentum, 0, false),
            ("dampening", Dampening, double.MinValue, false), ("eps", Eps, 0, false), ("betas[0]", Beta1, 0, true), ("betas[1]", Beta2, 0, true),
            ("alpha", Alpha, 0, false), ("lr_decay", LearningRateDecay, 0, false), ("initial_accumulator_value", InitialAccumulatorValue, 0, false),
        ];
        foreach (var (field, value, least, belowOne) in bounded)
        {
            if (!double.IsFinite(value) || value < least || (belowOne && value >= 1))
                return (field, V(value), belowOne ? "a number in [0, 1)" : least == 0 ? "a finite number >= 0" : "a finite number");
        }
        if (!double.IsFinite(L1) || L1 < 0)
            return ("l1", V(L1), "a finite number >= 0");
        if (ClipGradNorm is { } clip && !(double.IsFinite(clip) && clip > 0))
            return ("clip_grad_norm", V(clip), "a finite number > 0");
        if (Nesterov && (Momentum <= 0 || Dampening != 0))
            return ("nesterov", "true", $"momentum > 0 and dampening 0 (momentum is {V(Momentum)}, dampening {V(Dampening)})");
        return null;
    }

    /// <summary>torch.optim's defaults for <paramref name="kind"/> (lr as given).</summary>
    public static OptimizerSettings Defaults(OptimizerKind kind, double learningRate) => kind switch
    {
        OptimizerKind.AdamW => new OptimizerSettings { Kind = kind, LearningRate = learningRate, WeightDecay = 0.01 },
        OptimizerKind.Adagrad => new OptimizerSettings { Kind = kind, LearningRate = learningRate, Eps = 1e-10 },
        _ => new OptimizerSettings { Kind = kind, LearningRate = learningRate },
    };

    public static OptimizerKind ParseKind(string name) => name.ToLowerInvariant() switch
    {
        "sgd" => OptimizerKind.Sgd,
        "adam" => OptimizerKind.Adam,
        "adamw" => OptimizerKind.AdamW,
        "rmsprop" => OptimizerKind.RmsProp,
        "adagrad" => OptimizerKind.Adagrad,
        _ => throw new KernelLabException($"unknown optimizer '{name}': expected one of sgd, adam, adamw, rmsprop, adagrad"),
    };
}

/// <summary>
/// One tensor of a multi-tensor optimizer step (<see cref="Backend.OptimizerStep(OptimizerSettings, int, ReadOnlySpan{OptimizerTensor})"/>):
/// the parameter, its gradient and its <see cref="OptimizerSettings.StateCount"/> state views, each at least the parameter's length.
/// </summary>
public readonly record struct OptimizerTensor(DeviceView Param, DeviceView Grad, DeviceView[] State);
