using System.Text.Json;
using KernelLab.Backends;

namespace KernelLab.Models;

/// <summary>
/// A model of one of the four families, as a JSON config of MODELS.md describes it. <see cref="Parse"/>
/// checks every field, so that a network built from a config never meets an impossible size.
/// </summary>
public abstract record ModelConfig
{
    public abstract string Family { get; }

    /// <summary>True for lstm and transformer: x holds token ids [B, T] and y next-token ids [B, T].</summary>
    public abstract bool IsSequence { get; }

    /// <summary>Number of classes of the loss (the vocabulary for sequence models).</summary>
    public abstract int Classes { get; }

    /// <summary>Elements of one sample of x: sizes[0] (mlp), C*H*W (cnn), one token id per step (sequence models).</summary>
    public virtual long InputLength => 1;

    public static ModelConfig Load(string path)
    {
        using var doc = InputFile.ReadJson(path, "config file");
        return Parse(doc.RootElement, path);
    }

    /// <summary>Reads a config object; <paramref name="source"/> names where it came from in error messages.</summary>
    public static ModelConfig Parse(JsonElement json, string source)
    {
        var r = new JsonFields(json, source);
        string family = r.String("family");
        ModelConfig config = family switch
        {
            "mlp" => new MlpConfig(r.IntArray("sizes", minLength: 2), DropoutOf(r), BatchNormOf(r)),
            "cnn" => new CnnConfig(r.Int("in_channels"), r.Int("height"), r.Int("width"), r.IntArray("channels", minLength: 1),
                r.Int("kernel_size"), r.Int("hidden"), r.Int("classes"), DropoutOf(r), BatchNormOf(r)),
            "lstm" => new LstmConfig(r.Int("vocab"), r.Int("embed"), r.Int("hidden"), r.Int("layers")),
            "gru" => new GruConfig(r.Int("vocab"), r.Int("embed"), r.Int("hidden"), r.Int("layers")),
            "transformer" => new TransformerConfig(r.Int("vocab"), r.Int("context"), r.Int("d_model"), r.Int("heads"),
                r.Int("layers"), r.Int("ffn"), DropoutOf(r)),
            _ => throw new KernelLabException($"{source}: unknown family '{family}': expected one of mlp, cnn, lstm, gru, transformer"),
        };
        // A block that a family does not have is an error, not ignored: the model would train without it.
        if (r.Has("dropout") && config is RecurrentConfig)
            throw new KernelLabException($"{source}: 'dropout' is given, but the {family} family has no dropout: mlp, cnn and transformer have");
        if (r.Has("batch_norm") && config is not (MlpConfig or CnnConfig))
            throw new KernelLabException($"{source}: 'batch_norm' is given, but the {family} family has no batch norm: mlp and cnn have");
        if (config.Depth > MaxLayers)
            throw new KernelLabException($"{source}: {config.Depth} layers is more than the {MaxLayers} that a KernelLab network is built with");
        string? problem = config.Problem();
        if (problem is not null)
            throw new KernelLabException($"{source}: {problem}");
        return config;
    }

    /// <summary>"dropout": p in [0, 1), 0 when absent.</summary>
    private static double DropoutOf(JsonFields r)
    {
        if (!r.Has("dropout"))
            return 0;
        double p = r.Number("dropout");
        return p is >= 0 and < 1 ? p : throw new KernelLabException($"{r.Source}: 'dropout' is {p.ToString(System.Globalization.CultureInfo.InvariantCulture)}, expected a number in [0, 1)");
    }

    private static bool BatchNormOf(JsonFields r) => r.Has("batch_norm") && r.Bool("batch_norm");

    /// <summary>
    /// The most layers a network has. Every layer is an object with its buffers, built before a step runs, so a depth of
    /// millions (a typo, or fuzzed input) would spend minutes and the memory of the objects themselves before any
    /// memory check could say no; ten thousand is far beyond any network these families train.
    /// </summary>
    public const int MaxLayers = 10_000;

    /// <summary>Layers of the network: linear layers (mlp), conv blocks (cnn), recurrent or transformer layers.</summary>
    public abstract int Depth { get; }

    /// <summary>Why this config cannot be built, or null. Sizes are already known to be positive.</summary>
    protected virtual string? Problem() => null;
}

/// <summary><paramref name="Dropout"/> after every hidden ReLU; with <paramref name="BatchNorm"/>, bn{i} between fc{i} and its ReLU.</summary>
public sealed record MlpConfig(IReadOnlyList<int> Sizes, double Dropout = 0, bool BatchNorm = false) : ModelConfig
{
    public override string Family => "mlp";

    public override bool IsSequence => false;

    public override int Classes => Sizes[^1];

    public override long InputLength => Sizes[0];

    public override int Depth => Sizes.Count - 1;
}

/// <summary><paramref name="Dropout"/> after fc1's ReLU; with <paramref name="BatchNorm"/>, bn{i} between conv{i} and its ReLU.</summary>
public sealed record CnnConfig(int InChannels, int Height, int Width, IReadOnlyList<int> Channels, int KernelSize, int Hidden, int ClassCount,
    double Dropout = 0, bool BatchNorm = false) : ModelConfig
{
    public override string Family => "cnn";

    public override bool IsSequence => false;

    public override int Classes => ClassCount;

    public override long InputLength => (long)InChannels * Height * Width;

    public override int Depth => Channels.Count;

    /// <summary>Height and width after block <paramref name="blocks"/> blocks of conv + 2x2 pool (floor).</summary>
    public (int Height, int Width) SpatialAfter(int blocks) => blocks >= 31 ? (0, 0) : (Height >> blocks, Width >> blocks); // a shift counts mod 32

    protected override string? Problem()
    {
        if (KernelSize % 2 == 0)
            return $"kernel_size {KernelSize} is not odd";
        var (h, w) = SpatialAfter(Channels.Count);
        return h < 1 || w < 1
            ? $"a {Height}x{Width} image pooled {Channels.Count} times is empty: use fewer channels entries or a larger image"
            : null;
    }
}

/// <summary>embed, a stack of recurrent layers, head: the lstm and gru families.</summary>
public abstract record RecurrentConfig(int Vocab, int Embed, int Hidden, int Layers) : ModelConfig
{
    public override bool IsSequence => true;

    public override int Classes => Vocab;

    public override int Depth => Layers;

    /// <summary>Gate blocks per hidden unit: 4 (i, f, g, o) or 3 (r, z, n).</summary>
    public abstract int Gates { get; }
}

public sealed record LstmConfig(int Vocab, int Embed, int Hidden, int Layers) : RecurrentConfig(Vocab, Embed, Hidden, Layers)
{
    public override string Family => "lstm";

    public override int Gates => 4;
}

public sealed record GruConfig(int Vocab, int Embed, int Hidden, int Layers) : RecurrentConfig(Vocab, Embed, Hidden, Layers)
{
    public override string Family => "gru";

    public override int Gates => 3;
}

/// <summary><paramref name="Dropout"/> on wte[idx] + wpe and on attn_proj's and mlp_proj's outputs before each residual add.</summary>
public sealed record TransformerConfig(int Vocab, int Context, int DModel, int Heads, int Layers, int Ffn, double Dropout = 0) : ModelConfig
{
    public override string Family => "transformer";

    public override bool IsSequence => true;

    public override int Classes => Vocab;

    public override int Depth => Layers;

    protected override string? Problem() =>
        DModel % Heads != 0 ? $"heads {Heads} does not divide d_model {DModel}" : null;
}

/// <summary>Reads typed fields of a JSON object with one-line errors that name the source and the field.</summary>
public sealed class JsonFields
{
    private readonly JsonElement _json;
    private readonly string _source;

    /// <summary>What the errors name: the file, or the file and the object in it.</summary>
    public string Source => _source;

    public JsonFields(JsonElement json, string source)
    {
        if (json.ValueKind != JsonValueKind.Object)
            throw new KernelLabException($"{source}: expected a JSON object, found {Kind(json)}");
        _json = json;
        _source = source;
    }

    public bool Has(string name) => _json.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonElement Element(string name) =>
        _json.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null
            ? v
            : throw new KernelLabException($"{_source}: '{name}' is missing");

    public string String(string name)
    {
        var v = Element(name);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Wrong(name, "a string", v);
    }

    /// <summary>A positive integer.</summary>
    public int Int(string name) => Positive(name, Element(name));

    public double Number(string name)
    {
        var v = Element(name);
        return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Wrong(name, "a number", v);
    }

    public bool Bool(string name)
    {
        var v = Element(name);
        return v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(name, "true or false", v);
    }

    /// <summary>An array of strings with at least <paramref name="minLength"/> entries.</summary>
    public string[] StringArray(string name, int minLength)
    {
        var v = Element(name);
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw new KernelLabException($"{_source}: '{name}' must be an array of strings");
        string[] values = v.EnumerateArray().Select(e => e.GetString()!).ToArray();
        if (values.Length < minLength)
            throw new KernelLabException($"{_source}: '{name}' has {values.Length} entries, expected at least {minLength}");
        return values;
    }

    /// <summary>
    /// Throws the one-line error for a field not in <paramref name="names"/>: an object whose every field is read, where a
    /// misspelt optional field would otherwise be ignored in silence.
    /// </summary>
    public void AllowOnly(params string[] names)
    {
        foreach (var property in _json.EnumerateObject())
            if (!names.Contains(property.Name))
                throw new KernelLabException($"{_source}: unknown field '{property.Name}': expected one of {string.Join(", ", names)}");
    }

    /// <summary>An array of positive integers with at least <paramref name="minLength"/> entries.</summary>
    public int[] IntArray(string name, int minLength)
    {
        var v = Element(name);
        if (v.ValueKind != JsonValueKind.Array)
            throw Wrong(name, "an array of positive integers", v);
        int[] values = v.EnumerateArray().Select((e, i) => Positive($"{name}[{i}]", e)).ToArray();
        if (values.Length < minLength)
            throw new KernelLabException($"{_source}: '{name}' has {values.Length} entries, expected at least {minLength}");
        return values;
    }

    private int Positive(string name, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i > 0 ? i : throw Wrong(name, "a positive integer", v);

    private KernelLabException Wrong(string name, string expected, JsonElement v) =>
        new($"{_source}: '{name}' is {Kind(v)}, expected {expected}");

    private static string Kind(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => $"\"{v.GetString()}\"",
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };
}
