using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using KernelLab.Backends;
using KernelLab.Models.Safetensors;

namespace KernelLab.Tests;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kernellab-st-" + Guid.NewGuid().ToString("N"));

    public SafetensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- round trips ----

    [Fact]
    public void RoundTrip_EveryDtype_ZeroDim_Empty_Metadata()
    {
        float[] f32 = [1.5f, -2.25f, float.MaxValue, float.Epsilon, float.NegativeInfinity, 0.1f];
        double[] f64 = [Math.PI];
        long[] i64 = [long.MinValue, -1, 0, long.MaxValue];
        int[] i32 = [int.MinValue, -7, 0, 42, int.MaxValue, 3];
        string path = Combine("all.safetensors");

        new SafetensorsWriter()
            .Add("w", [2, 3], f32)
            .Add("loss", [], f64)
            .Add("empty", [0], ReadOnlySpan<double>.Empty)
            .Add("big", [2, 2], i64)
            .Add("ids", [3, 1, 2], i32)
            .Add("empty_ids", [4, 0], ReadOnlySpan<int>.Empty)
            .AddMetadata("format", "pt")
            .AddMetadata("note", "ünïcode + \"quotes\"")
            .Write(path);

        SafetensorsFile file = SafetensorsFile.Read(path);
        Assert.Equal(path, file.Path);
        Assert.Equal(["w", "loss", "empty", "big", "ids", "empty_ids"], file.Tensors.Select(t => t.Name));
        Assert.Equal([DType.F32, DType.F64, DType.F64, DType.I64, DType.I32, DType.I32], file.Tensors.Select(t => t.DType));
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode + \"quotes\"" }, file.Metadata);

        Assert.Equal([2L, 3], file.Info("w").Shape);
        Assert.Equal(f32.Select(v => (double)v), file.ReadReal("w", [2, 3]));

        TensorInfo loss = file.Info("loss");
        Assert.Empty(loss.Shape);
        Assert.Equal(1, loss.ElementCount);
        Assert.Equal([Math.PI], file.ReadReal("loss", []));

        Assert.Equal(0, file.Info("empty").ElementCount);
        Assert.Empty(file.ReadReal("empty", [0]));
        Assert.Empty(file.ReadIndices("empty_ids", [4, 0]));
        Assert.Equal(i32, file.ReadIndices("ids", [3, 1, 2]));
        Assert.True(file.Contains("big"));
        Assert.False(file.Contains("nope"));

        // I64 values are exact on disk, even where ReadIndices would refuse them.
        byte[] bytes = File.ReadAllBytes(path);
        var (header, dataStart) = HeaderOf(bytes);
        long[] offsets = [.. header.GetProperty("big").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64())];
        for (int i = 0; i < i64.Length; i++)
            Assert.Equal(i64[i], BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan((int)(dataStart + offsets[0] + 8 * i))));
    }

    [Fact]
    public void Writer_PadsHeaderTo8Bytes_AndLaysDataOutContiguouslyInInsertionOrder()
    {
        string path = Combine("layout.safetensors");
        new SafetensorsWriter()
            .Add("z", [3], [1f, 2f, 3f])
            .Add("a", [2], [1.0, 2.0])
            .Add("m", [1], [7L])
            .Write(path);

        byte[] bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        Assert.EndsWith("}", Encoding.UTF8.GetString(bytes, 8, (int)n).TrimEnd(' '));
        var (header, dataStart) = HeaderOf(bytes);
        Assert.False(header.TryGetProperty("__metadata__", out _));
        Assert.Equal(["z", "a", "m"], header.EnumerateObject().Select(p => p.Name));
        long expectedBegin = 0;
        foreach (JsonProperty p in header.EnumerateObject())
        {
            long[] o = [.. p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64())];
            Assert.Equal(expectedBegin, o[0]);
            expectedBegin = o[1];
        }
        Assert.Equal(bytes.Length - dataStart, expectedBegin);
    }

    [Fact]
    public void Reads_HandWrittenFile_WithoutPadding_AndDataOutOfNameOrder()
    {
        // "b" sits first in the data, "a" second, the 0-dim "s" last; one unknown key is ignored.
        string header = """{"a":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"s":{"dtype":"I64","shape":[],"data_offsets":[24,32],"extra":1}}""";
        byte[] data = [.. I32(5, -6), .. F64(0.25, -1e300), .. I64(123)];
        string path = WriteRaw("hand.safetensors", header, data);
        Assert.NotEqual(0, Encoding.UTF8.GetByteCount(header) % 8);

        SafetensorsFile file = SafetensorsFile.Read(path);
        Assert.Equal(["a", "b", "s"], file.Tensors.Select(t => t.Name));
        Assert.Empty(file.Metadata);
        Assert.Equal([0.25, -1e300], file.ReadReal("a", [2]));
        Assert.Equal([5, -6], file.ReadIndices("b", [2]));
        Assert.Equal([123], file.ReadIndices("s", []));
    }

    [Fact]
    public void FormatShape_PrintsBracketsAndCommas()
    {
        Assert.Equal("[64, 784]", TensorInfo.FormatShape([64, 784]));
        Assert.Equal("[]", TensorInfo.FormatShape(ReadOnlySpan<long>.Empty));
        Assert.Equal("[0]", TensorInfo.FormatShape(new TensorInfo("t", DType.F32, [0]).Shape));
    }

    // ---- rejections: the file itself ----

    [Fact]
    public void Rejects_TruncatedFile_AtEveryStage()
    {
        string good = Combine("good.safetensors");
        new SafetensorsWriter().Add("a", [2], [1f, 2f]).Add("b", [4], [1.0, 2.0, 3.0, 4.0]).Write(good);
        byte[] bytes = File.ReadAllBytes(good);
        int dataStart = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        int dataLength = bytes.Length - dataStart;

        (int Cut, string[] Expected)[] cases =
        [
            (0, ["truncated", "0 bytes"]),
            (5, ["truncated", "5 bytes"]),
            (8, ["header length", "larger than the file (8 bytes)"]),
            (dataStart - 3, ["header length", $"larger than the file ({dataStart - 3} bytes)"]),
            (dataStart, ["truncated", "'a'", $"ends at byte 8 of a 0-byte data section"]),
            (dataStart + 8, ["truncated", "'b'", $"ends at byte {dataLength} of a 8-byte data section"]),
            (bytes.Length - 1, ["truncated", "'b'", $"ends at byte {dataLength} of a {dataLength - 1}-byte data section"]),
        ];
        foreach ((int cut, string[] expected) in cases)
        {
            string path = WriteBytes($"cut{cut}.safetensors", bytes[..cut]);
            AssertRejected(path, () => SafetensorsFile.Read(path), expected);
        }
    }

    [Fact]
    public void Rejects_HeaderLengthLargerThanFile()
    {
        byte[] bytes = new byte[1234];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 9999999999);
        string path = WriteBytes("b.safetensors", bytes);
        AssertRejected(path, () => SafetensorsFile.Read(path), "header length 9999999999 is larger than the file (1234 bytes)");

        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        path = WriteBytes("max.safetensors", bytes);
        AssertRejected(path, () => SafetensorsFile.Read(path), $"header length {ulong.MaxValue} is larger than the file");
    }

    [Fact]
    public void Rejects_InvalidJson()
    {
        string path = WriteRaw("bad.safetensors", """{"a": {"dtype": "F32",""");
        AssertRejected(path, () => SafetensorsFile.Read(path), "the header: invalid JSON");

        path = WriteRaw("empty.safetensors", "");
        AssertRejected(path, () => SafetensorsFile.Read(path), "the header: invalid JSON");
    }

    [Fact]
    public void Rejects_HeaderThatIsNotUtf8()
    {
        byte[] header = [(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'];
        string path = WriteBytes("latin.safetensors", [.. U64((ulong)header.Length), .. header]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "not valid UTF-8");
    }

    [Fact]
    public void Rejects_HeaderThatIsNotAnObject()
    {
        string path = WriteRaw("array.safetensors", "[1, 2]");
        AssertRejected(path, () => SafetensorsFile.Read(path), "expected a JSON object");
    }

    [Fact]
    public void Rejects_MissingFile_AndDirectory()
    {
        string path = Combine("P.safetensors");
        AssertRejected(path, () => SafetensorsFile.Read(path), "file not found");
        string inMissingDir = Path.Combine(_dir, "no-such-dir", "P.safetensors");
        AssertRejected(inMissingDir, () => SafetensorsFile.Read(inMissingDir), "file not found");
        AssertRejected(_dir, () => SafetensorsFile.Read(_dir), "directory");
    }

    // ---- rejections: one tensor entry ----

    [Fact]
    public void Rejects_UnknownDtype()
    {
        string path = WriteRaw("bf16.safetensors", """{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}""", new byte[4]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'w'", "'BF16'", "expected F32, F64, I64 or I32");
    }

    [Fact]
    public void Rejects_NegativeShape()
    {
        string path = WriteRaw("neg.safetensors", """{"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]}}""");
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'w'", "negative dimension -3");
    }

    [Fact]
    public void Rejects_ShapeThatIsNotIntegers_OrOverflows()
    {
        string path = WriteRaw("frac.safetensors", """{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,0]}}""");
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'w'", "non-negative integer");
        path = WriteRaw("huge.safetensors", """{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}""");
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'w'", "too many elements");
        path = WriteRaw("nodtype.safetensors", """{"w":{"shape":[1],"data_offsets":[0,4]}}""", new byte[4]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'w' has no dtype");
    }

    [Fact]
    public void Rejects_OffsetsOutOfRange()
    {
        string path = WriteRaw("x.safetensors", """{"x":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}""", new byte[320]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "truncated: tensor 'x' ends at byte 400 of a 320-byte data section");
        path = WriteRaw("negoff.safetensors", """{"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}""", new byte[8]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'x'", "negative data_offsets");
        path = WriteRaw("three.safetensors", """{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}""", new byte[8]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'x'", "expected two integers");
    }

    [Fact]
    public void Rejects_OffsetsReversed()
    {
        string path = WriteRaw("rev.safetensors", """{"x":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}""", new byte[8]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'x'", "[8, 4]", "begin is after end");
    }

    [Fact]
    public void Rejects_ByteLengthThatDoesNotMatchShape()
    {
        string path = WriteRaw("len.safetensors", """{"w":{"dtype":"F64","shape":[2,3],"data_offsets":[0,24]}}""", new byte[48]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'w'", "holds 24 bytes", "expected 48 for F64 of shape [2, 3]");
    }

    [Fact]
    public void Rejects_OverlappingTensors()
    {
        string path = WriteRaw("overlap.safetensors",
            """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[12,28]}}""", new byte[28]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "'a'", "'b'", "overlap");
    }

    [Fact]
    public void Rejects_DuplicateTensorName()
    {
        string path = WriteRaw("dup.safetensors",
            """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", new byte[8]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "tensor 'a' appears twice");
    }

    [Fact]
    public void Rejects_MetadataThatIsNotStrings()
    {
        string path = WriteRaw("meta.safetensors", """{"__metadata__":{"format":"pt","epoch":3}}""");
        AssertRejected(path, () => SafetensorsFile.Read(path), "__metadata__", "'epoch'", "expected a string");
        path = WriteRaw("meta2.safetensors", """{"__metadata__":["pt"]}""");
        AssertRejected(path, () => SafetensorsFile.Read(path), "__metadata__", "expected an object of strings");
    }

    [Fact]
    public void Message_StaysOneLine_ForHostileNames()
    {
        string path = WriteRaw("evil.safetensors", "{\"line1\\nline2\\u2028x\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", new byte[2]);
        AssertRejected(path, () => SafetensorsFile.Read(path), "'line1\\u000aline2\\u2028x'", "F16");
    }

    // ---- rejections: asking for a tensor ----

    [Fact]
    public void Rejects_MissingTensor()
    {
        string path = WriteSample();
        AssertRejected(path, () => SafetensorsFile.Read(path).Info("fc2.bias"), "tensor 'fc2.bias' is missing");
        AssertRejected(path, () => SafetensorsFile.Read(path).ReadReal("fc2.bias", [1]), "tensor 'fc2.bias' is missing");
    }

    [Fact]
    public void Rejects_WrongShape()
    {
        string path = WriteSample();
        AssertRejected(path, () => SafetensorsFile.Read(path).ReadReal("w", [3, 2]), "tensor 'w' has shape [2, 3], expected [3, 2]");
        AssertRejected(path, () => SafetensorsFile.Read(path).ReadReal("w", [6]), "tensor 'w' has shape [2, 3], expected [6]");
        AssertRejected(path, () => SafetensorsFile.Read(path).ReadIndices("ids", []), "tensor 'ids' has shape [3], expected []");
    }

    [Fact]
    public void Rejects_WrongDtype()
    {
        string path = WriteSample();
        AssertRejected(path, () => SafetensorsFile.Read(path).ReadReal("ids", [3]), "tensor 'ids' is I64, expected F32 or F64");
        AssertRejected(path, () => SafetensorsFile.Read(path).ReadIndices("w", [2, 3]), "tensor 'w' is F32, expected I64 or I32");
    }

    [Fact]
    public void Rejects_I64IdOutsideInt32()
    {
        string path = Combine("ids.safetensors");
        new SafetensorsWriter().Add("y", [3], [1L, 5_000_000_000L, 2L]).Write(path);
        AssertRejected(path, () => SafetensorsFile.Read(path).ReadIndices("y", [3]), "tensor 'y'", "5000000000", "int32");
    }

    // ---- writer ----

    [Fact]
    public void Writer_RejectsBadInput_AndLeavesNoFile()
    {
        string path = Combine("w.safetensors");
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().Add("w", [2, 3], new float[5]).Write(path));
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().Add("w", [-1], ReadOnlySpan<float>.Empty));
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().Add("w", [1], [1.0]).Add("w", [1], [1.0]));
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().Add("__metadata__", [1], [1.0]));
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().AddMetadata("k", "a").AddMetadata("k", "b"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public void Writer_FailingWrite_LeavesNoPartialOrTemporaryFile()
    {
        var writer = new SafetensorsWriter().Add("w", [2], [1f, 2f]);

        string missingDir = Path.Combine(_dir, "missing", "w.safetensors");
        AssertRejected(missingDir, () => writer.Write(missingDir), "cannot write");

        string dirTarget = Path.Combine(_dir, "target.safetensors");
        Directory.CreateDirectory(dirTarget);
        AssertRejected(dirTarget, () => writer.Write(dirTarget), "cannot write", "directory");

        Assert.Equal([dirTarget], Directory.EnumerateFileSystemEntries(_dir));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dirTarget));
    }

    [Fact]
    public void Writer_ReplacesExistingFileWhole()
    {
        string path = Combine("p.safetensors");
        new SafetensorsWriter().Add("big", [1000], new double[1000]).AddMetadata("v", "1").Write(path);
        long bigLength = new FileInfo(path).Length;

        new SafetensorsWriter().Add("small", [2], [3.0, 4.0]).Write(path);

        SafetensorsFile file = SafetensorsFile.Read(path);
        Assert.Equal(["small"], file.Tensors.Select(t => t.Name));
        Assert.Empty(file.Metadata);
        Assert.Equal([3.0, 4.0], file.ReadReal("small", [2]));
        Assert.True(new FileInfo(path).Length < bigLength);
        var (_, dataStart) = HeaderOf(File.ReadAllBytes(path));
        Assert.Equal(dataStart + 16, new FileInfo(path).Length);
        Assert.Equal([path], Directory.EnumerateFileSystemEntries(_dir));
    }

    // ---- helpers ----

    private string Combine(string name) => Path.Combine(_dir, name);

    private string WriteSample()
    {
        string path = Combine("params.safetensors");
        new SafetensorsWriter().Add("w", [2, 3], new float[6]).Add("ids", [3], [1L, 2L, 3L]).Write(path);
        return path;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = Combine(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A file written by hand: exact header bytes, no padding.</summary>
    private string WriteRaw(string name, string header, byte[]? data = null)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        return WriteBytes(name, [.. U64((ulong)h.Length), .. h, .. data ?? []]);
    }

    private static (JsonElement Header, long DataStart) HeaderOf(byte[] bytes)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using JsonDocument doc = JsonDocument.Parse(bytes.AsMemory(8, n));
        return (doc.RootElement.Clone(), 8 + n);
    }

    private static void AssertRejected(string path, Action act, params string[] expected)
    {
        var ex = Assert.Throws<KernelLabException>(act);
        Assert.StartsWith(path + ": ", ex.Message);
        foreach (string part in expected)
            Assert.Contains(part, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain('\r', ex.Message);
        Assert.DoesNotContain('\u2028', ex.Message);
    }

    private static byte[] U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return b; }

    private static byte[] I64(params long[] v) => [.. v.SelectMany(x => { var b = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, x); return b; })];

    private static byte[] I32(params int[] v) => [.. v.SelectMany(x => { var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, x); return b; })];

    private static byte[] F64(params double[] v) => [.. v.SelectMany(x => { var b = new byte[8]; BinaryPrimitives.WriteDoubleLittleEndian(b, x); return b; })];
}
