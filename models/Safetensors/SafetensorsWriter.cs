using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using KernelLab.Backends;

namespace KernelLab.Models.Safetensors;

/// <summary>
/// Builds a safetensors file: tensors in insertion order, data contiguous, header padded with spaces to a
/// multiple of 8 bytes (as the reference implementation does), "__metadata__" only when there is some.
/// </summary>
public sealed class SafetensorsWriter
{
    private readonly List<(TensorInfo Info, byte[] Data)> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    public SafetensorsWriter Add(string name, ReadOnlySpan<long> shape, ReadOnlySpan<float> data) =>
        Add(name, DType.F32, shape, data);

    public SafetensorsWriter Add(string name, ReadOnlySpan<long> shape, ReadOnlySpan<double> data) =>
        Add(name, DType.F64, shape, data);

    public SafetensorsWriter Add(string name, ReadOnlySpan<long> shape, ReadOnlySpan<int> data) =>
        Add(name, DType.I32, shape, data);

    public SafetensorsWriter Add(string name, ReadOnlySpan<long> shape, ReadOnlySpan<long> data) =>
        Add(name, DType.I64, shape, data);

    public SafetensorsWriter AddMetadata(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (!_metadata.TryAdd(key, value))
            throw new ArgumentException($"metadata key '{key}' is already added", nameof(key));
        return this;
    }

    /// <summary>
    /// Writes to a temporary file in the target's directory and renames it over <paramref name="path"/>,
    /// so a failure never leaves a partial file. IO failures throw a one-line <see cref="KernelLabException"/>.
    /// </summary>
    public void Write(string path) => AtomicFile.Write(path, WriteTo);

    /// <summary>The whole file into <paramref name="stream"/> (for <see cref="AtomicFile.WriteAll"/> with other files).</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] header = Header();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach ((_, byte[] data) in _tensors)
            stream.Write(data);
    }

    private SafetensorsWriter Add<T>(string name, DType dtype, ReadOnlySpan<long> shape, ReadOnlySpan<T> data)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name == "__metadata__")
            throw new ArgumentException("'__metadata__' is reserved for metadata, not a tensor name", nameof(name));
        var info = new TensorInfo(name, dtype, shape.ToArray());
        if (info.ElementCount != data.Length)
            throw new ArgumentException(
                $"tensor '{name}' of shape {TensorInfo.FormatShape(shape)} needs {info.ElementCount} elements, got {data.Length}", nameof(data));
        if (!_names.Add(name))
            throw new ArgumentException($"tensor '{name}' is already added", nameof(name));

        byte[] bytes = MemoryMarshal.AsBytes(data).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            int size = DTypes.Size(dtype);
            for (int i = 0; i < bytes.Length; i += size)
                bytes.AsSpan(i, size).Reverse();
        }
        _tensors.Add((info, bytes));
        return this;
    }

    private byte[] Header()
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps names readable (no \u002B for '+'); the header is never embedded in HTML.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (_metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach ((string key, string value) in _metadata)
                    json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach ((TensorInfo info, byte[] data) in _tensors)
            {
                json.WriteStartObject(info.Name);
                json.WriteString("dtype", info.DType.ToString());
                json.WriteStartArray("shape");
                foreach (long d in info.Shape)
                    json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += data.Length;
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        byte[] header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
