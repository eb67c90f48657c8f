using System.Buffers.Binary;
using System.Text;
using KernelLab.Models.Safetensors;

namespace KernelLab.Tests;

/// <summary>One tensor of a safetensors file, its values widened to double (ids are exact up to 2^53).</summary>
internal sealed record Tensor(string Name, DType DType, long[] Shape, double[] Values)
{
    public Tensor With(int index, double value)
    {
        double[] values = [.. Values];
        values[index] = value;
        return this with { Values = values };
    }
}

/// <summary>Reading, rewriting and corrupting safetensors files for the CLI tests.</summary>
internal static class CliFiles
{
    public static string Golden(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "golden", name);

    public static List<Tensor> ReadTensors(string path)
    {
        var file = SafetensorsFile.Read(path);
        return file.Tensors.Select(t =>
        {
            long[] shape = [.. t.Shape];
            double[] values = t.DType is DType.F32 or DType.F64
                ? file.ReadReal(t.Name, shape)
                : Array.ConvertAll(file.ReadIndices(t.Name, shape), v => (double)v);
            return new Tensor(t.Name, t.DType, shape, values);
        }).ToList();
    }

    /// <summary>Writes the tensors in order, each with its own dtype.</summary>
    public static void WriteTensors(string path, IEnumerable<Tensor> tensors)
    {
        var writer = new SafetensorsWriter();
        foreach (var t in tensors)
        {
            _ = t.DType switch
            {
                DType.F32 => writer.Add(t.Name, t.Shape, Array.ConvertAll(t.Values, v => (float)v)),
                DType.F64 => writer.Add(t.Name, t.Shape, t.Values),
                DType.I64 => writer.Add(t.Name, t.Shape, Array.ConvertAll(t.Values, v => (long)v)),
                DType.I32 => writer.Add(t.Name, t.Shape, Array.ConvertAll(t.Values, v => (int)v)),
                _ => throw new ArgumentOutOfRangeException(nameof(tensors)),
            };
        }
        writer.Write(path);
    }

    /// <summary>The JSON header of a file and the offset of its data section.</summary>
    public static (string Header, int DataStart) HeaderOf(byte[] bytes)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return (Encoding.UTF8.GetString(bytes, 8, n), 8 + n);
    }

    /// <summary>The same file with its header text replaced (the data section is kept as it is).</summary>
    public static byte[] WithHeader(byte[] bytes, string header)
    {
        var (_, dataStart) = HeaderOf(bytes);
        byte[] json = Encoding.UTF8.GetBytes(header);
        var result = new byte[8 + json.Length + bytes.Length - dataStart];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)json.Length);
        json.CopyTo(result, 8);
        bytes.AsSpan(dataStart).CopyTo(result.AsSpan(8 + json.Length));
        return result;
    }
}
