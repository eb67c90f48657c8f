using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using KernelLab.Backends;

namespace KernelLab.Models.Safetensors;

/// <summary>
/// An opened and fully validated safetensors file: 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// header (tensor name -> dtype, shape, data_offsets; optional "__metadata__"), then little-endian data.
/// The file is untrusted: every defect is found in <see cref="Read"/> and reported as a one-line
/// <see cref="KernelLabException"/> naming the file and the tensor.
/// </summary>
public sealed class SafetensorsFile
{
    /// <summary>Larger headers are refused before parsing (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    private readonly byte[] _bytes;
    private readonly long _dataStart;
    private readonly Dictionary<string, Entry> _entries;

    private sealed record Entry(TensorInfo Info, long Begin, long End);

    private SafetensorsFile(string path, byte[] bytes, long dataStart, List<Entry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        _bytes = bytes;
        _dataStart = dataStart;
        _entries = entries.ToDictionary(e => e.Info.Name, StringComparer.Ordinal);
        Tensors = entries.Select(e => e.Info).ToArray();
        Metadata = metadata;
    }

    /// <summary>The path as given to <see cref="Read"/>; messages name the file this way.</summary>
    public string Path { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>In header order.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    public static SafetensorsFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            throw new KernelLabException("the safetensors file path is empty");
        return Parse(path, InputFile.ReadBytes(path, "safetensors file"));
    }

    public bool Contains(string name) => _entries.ContainsKey(name);

    public TensorInfo Info(string name) => Find(name).Info;

    /// <summary>An F32 or F64 tensor of exactly <paramref name="expectedShape"/>, widened to double.</summary>
    public double[] ReadReal(string name, ReadOnlySpan<long> expectedShape)
    {
        Entry e = Find(name, $"F32 or F64 of shape {TensorInfo.FormatShape(expectedShape)}");
        if (e.Info.DType is not (DType.F32 or DType.F64))
            throw Error($"tensor {Quote(name)} is {e.Info.DType}, expected F32 or F64");
        CheckShape(e.Info, expectedShape);

        ReadOnlySpan<byte> data = DataOf(e);
        var values = new double[e.Info.ElementCount];
        if (e.Info.DType == DType.F32)
            for (int i = 0; i < values.Length; i++)
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(4 * i)..]);
        else
            for (int i = 0; i < values.Length; i++)
                values[i] = BinaryPrimitives.ReadDoubleLittleEndian(data[(8 * i)..]);
        return values;
    }

    /// <summary>An I32 or I64 tensor (token ids, class targets) of exactly <paramref name="expectedShape"/>.</summary>
    public int[] ReadIndices(string name, ReadOnlySpan<long> expectedShape)
    {
        Entry e = Find(name, $"I64 or I32 of shape {TensorInfo.FormatShape(expectedShape)}");
        if (e.Info.DType is not (DType.I32 or DType.I64))
            throw Error($"tensor {Quote(name)} is {e.Info.DType}, expected I64 or I32");
        CheckShape(e.Info, expectedShape);

        ReadOnlySpan<byte> data = DataOf(e);
        var values = new int[e.Info.ElementCount];
        if (e.Info.DType == DType.I32)
            for (int i = 0; i < values.Length; i++)
                values[i] = BinaryPrimitives.ReadInt32LittleEndian(data[(4 * i)..]);
        else
            for (int i = 0; i < values.Length; i++)
            {
                long v = BinaryPrimitives.ReadInt64LittleEndian(data[(8 * i)..]);
                if (v is < int.MinValue or > int.MaxValue)
                    throw Error($"tensor {Quote(name)} holds {v} at element {i}, outside the int32 range");
                values[i] = (int)v;
            }
        return values;
    }

    /// <summary>The entry, or a one-line error that says what was <paramref name="expected"/> when it is missing.</summary>
    private Entry Find(string name, string? expected = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _entries.TryGetValue(name, out Entry? e)
            ? e
            : throw Error(expected is null ? $"tensor {Quote(name)} is missing" : $"tensor {Quote(name)} is missing, expected {expected}");
    }

    private void CheckShape(TensorInfo info, ReadOnlySpan<long> expected)
    {
        long[] actual = [.. info.Shape];
        if (!expected.SequenceEqual(actual))
            throw Error($"tensor {Quote(info.Name)} has shape {TensorInfo.FormatShape(actual)}, expected {TensorInfo.FormatShape(expected)}");
    }

    private ReadOnlySpan<byte> DataOf(Entry e) =>
        _bytes.AsSpan(checked((int)(_dataStart + e.Begin)), checked((int)(e.End - e.Begin)));

    private KernelLabException Error(string message) => Fail(Path, message);

    /// <summary>The file's bytes as <see cref="Read"/> checks them (internal: the fuzz tests feed it bytes).</summary>
    internal static SafetensorsFile Parse(string path, byte[] bytes)
    {
        if (bytes.Length < 8)
            throw Fail(path, $"truncated: the file is {bytes.Length} bytes, shorter than the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8))
            throw Fail(path, $"header length {headerLength} is larger than the file ({bytes.Length} bytes)");
        if (headerLength > MaxHeaderBytes)
            throw Fail(path, $"header length {headerLength} is over the {MaxHeaderBytes}-byte limit");

        var header = new ReadOnlyMemory<byte>(bytes, 8, (int)headerLength);
        if (!Utf8.IsValid(header.Span))
            throw Fail(path, "the header is not valid UTF-8");

        long dataStart = 8 + (long)headerLength;
        long dataLength = bytes.Length - dataStart;
        using (JsonDocument doc = JsonInput.Parse(header, $"{path}: the header"))
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Fail(path, $"the header is {Describe(doc.RootElement)}, expected a JSON object");

            var entries = new List<Entry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            Dictionary<string, string>? metadata = null;
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == MetadataKey)
                {
                    if (metadata != null)
                        throw Fail(path, $"{MetadataKey} appears twice in the header");
                    metadata = ParseMetadata(path, p.Value);
                    continue;
                }
                if (!names.Add(p.Name))
                    throw Fail(path, $"tensor {Quote(p.Name)} appears twice in the header");
                entries.Add(ParseEntry(path, p.Name, p.Value, dataLength));
            }
            CheckNoOverlap(path, entries);
            return new SafetensorsFile(path, bytes, dataStart, entries, metadata ?? []);
        }
    }

    private static Entry ParseEntry(string path, string name, JsonElement value, long dataLength)
    {
        string tensor = $"tensor {Quote(name)}";
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail(path, $"{tensor}: header entry is {Describe(value)}, expected an object with dtype, shape and data_offsets");

        JsonElement? dtypeField = null, shapeField = null, offsetsField = null;
        foreach (JsonProperty field in value.EnumerateObject())
        {
            // Other keys are ignored, as by the reference implementation.
            switch (field.Name)
            {
                case "dtype": dtypeField = Once(dtypeField, field); break;
                case "shape": shapeField = Once(shapeField, field); break;
                case "data_offsets": offsetsField = Once(offsetsField, field); break;
            }
        }

        JsonElement Once(JsonElement? earlier, JsonProperty field) => earlier == null
            ? field.Value
            : throw Fail(path, $"{tensor}: \"{field.Name}\" appears twice");

        if (dtypeField is not { } dtypeJson)
            throw Fail(path, $"{tensor} has no dtype");
        if (dtypeJson.ValueKind != JsonValueKind.String)
            throw Fail(path, $"{tensor} has dtype {Describe(dtypeJson)}, expected a string: F32, F64, I64 or I32");
        string dtypeName = dtypeJson.GetString()!;
        if (!DTypes.TryParse(dtypeName, out DType dtype))
            throw Fail(path, $"{tensor} has dtype {Quote(dtypeName)}, expected F32, F64, I64 or I32");

        if (shapeField is not { } shapeJson)
            throw Fail(path, $"{tensor} has no shape");
        if (shapeJson.ValueKind != JsonValueKind.Array)
            throw Fail(path, $"{tensor} has shape {Describe(shapeJson)}, expected an array of non-negative integers");
        var shape = new long[shapeJson.GetArrayLength()];
        int k = 0;
        foreach (JsonElement d in shapeJson.EnumerateArray())
        {
            if (!TryGetInteger(d, out long dim))
                throw Fail(path, $"{tensor} has shape dimension {k} = {Describe(d)}, expected a non-negative integer");
            if (dim < 0)
                throw Fail(path, $"{tensor} has negative dimension {dim} in shape {Raw(shapeJson)}");
            shape[k++] = dim;
        }
        int size = DTypes.Size(dtype);
        if (!TensorInfo.TryCountElements(shape, out long count) || count > long.MaxValue / size)
            throw Fail(path, $"{tensor} has shape {TensorInfo.FormatShape(shape)}, too many elements to address in bytes");

        if (offsetsField is not { } offsetsJson)
            throw Fail(path, $"{tensor} has no data_offsets");
        if (offsetsJson.ValueKind != JsonValueKind.Array || offsetsJson.GetArrayLength() != 2
            || !TryGetInteger(offsetsJson[0], out long begin) || !TryGetInteger(offsetsJson[1], out long end))
            throw Fail(path, $"{tensor} has data_offsets {Raw(offsetsJson)}, expected two integers [begin, end]");
        if (begin < 0 || end < 0)
            throw Fail(path, $"{tensor} has negative data_offsets [{begin}, {end}]");
        if (begin > end)
            throw Fail(path, $"{tensor} has data_offsets [{begin}, {end}]: begin is after end");
        if (end > dataLength)
            throw Fail(path, $"truncated: {tensor} ends at byte {end} of a {dataLength}-byte data section");

        long expectedBytes = count * size;
        if (end - begin != expectedBytes)
            throw Fail(path, $"{tensor} holds {end - begin} bytes (data_offsets [{begin}, {end}]), expected {expectedBytes} for {dtype} of shape {TensorInfo.FormatShape(shape)}");

        return new Entry(new TensorInfo(name, dtype, shape), begin, end);
    }

    private static Dictionary<string, string> ParseMetadata(string path, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail(path, $"{MetadataKey} is {Describe(value)}, expected an object of strings");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw Fail(path, $"{MetadataKey} entry {Quote(p.Name)} is {Describe(p.Value)}, expected a string");
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!))
                throw Fail(path, $"{MetadataKey} entry {Quote(p.Name)} appears twice");
        }
        return metadata;
    }

    private static void CheckNoOverlap(string path, List<Entry> entries)
    {
        // Empty tensors hold no bytes, so they cannot overlap anything.
        Entry[] byBegin = [.. entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin)];
        for (int i = 1; i < byBegin.Length; i++)
        {
            Entry a = byBegin[i - 1], b = byBegin[i];
            if (b.Begin < a.End)
                throw Fail(path, $"tensors {Quote(a.Info.Name)} (bytes {a.Begin}..{a.End}) and {Quote(b.Info.Name)} (bytes {b.Begin}..{b.End}) overlap");
        }
    }

    /// <summary>Every message is one line: untrusted names and library messages are escaped.</summary>
    internal static KernelLabException Fail(string path, string message, Exception? inner = null) =>
        new(OneLine($"{path}: {message}"), inner);

    /// <summary>A name from the file, quoted, with control characters escaped and long names cut.</summary>
    internal static string Quote(string name)
    {
        const int MaxShown = 120;
        var text = new StringBuilder("'");
        foreach (char c in name.Length > MaxShown ? name[..MaxShown] : name)
        {
            if (char.IsControl(c) || c is '\u2028' or '\u2029')
                text.Append($"\\u{(int)c:x4}");
            else
                text.Append(c);
        }
        return text.Append(name.Length > MaxShown ? "'..." : "'").ToString();
    }

    private static string OneLine(string text)
    {
        var line = new StringBuilder(text.Length);
        foreach (char c in text)
            line.Append(char.IsControl(c) || c is '\u2028' or '\u2029' ? ' ' : c);
        return line.ToString();
    }

    /// <summary>A JSON value as it appears in the header, squeezed onto one line and cut short.</summary>
    private static string Raw(JsonElement value)
    {
        const int MaxShown = 80;
        string raw = string.Join(' ', value.GetRawText().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return raw.Length > MaxShown ? raw[..MaxShown] + "..." : raw;
    }

    /// <summary>An integer that fits a long; false for strings, fractions and larger integers.</summary>
    private static bool TryGetInteger(JsonElement e, out long value)
    {
        value = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out value);
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => $"an array {Raw(value)}",
        JsonValueKind.String => $"the string {Raw(value)}",
        JsonValueKind.Number => $"the number {Raw(value)}",
        JsonValueKind.True or JsonValueKind.False => Raw(value),
        _ => "null",
    };
}
