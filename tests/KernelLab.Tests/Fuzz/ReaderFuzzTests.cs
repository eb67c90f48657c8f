using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using KernelLab.Backends;
using KernelLab.Models;
using KernelLab.Models.Safetensors;
using KernelLab.Results;
using KernelLab.Suites;

namespace KernelLab.Tests;

/// <summary>
/// Every reader of a file a user gives, fed seeded mutations of valid files (bit flips, cut and repeated ranges, and
/// tokens that have broken readers before: lone surrogate escapes, huge and negative numbers, nulls, deep nesting). The
/// one contract: a value, or a <see cref="KernelLabException"/> with a message; never another exception, never a hang.
///
/// CI runs <see cref="DefaultCases"/> cases per reader. A longer run for a person:
/// <c>KERNELLAB_FUZZ_CASES=100000 dotnet test -c Release --filter FullyQualifiedName~ReaderFuzzTests</c>
/// (<c>KERNELLAB_FUZZ_SEED</c> picks another seed; a failure names the seed and case, which replay it).
/// </summary>
public sealed class ReaderFuzzTests
{
    private const int DefaultCases = 3000;

    /// <summary>A single case slower than this is reported as a hang.</summary>
    private static readonly TimeSpan CaseLimit = TimeSpan.FromSeconds(10);

    private static string Fixture(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "fixtures", .. parts]);

    private static readonly string[] Tokens =
    [
        "\"\\ud800\"", "\"\\udfff\"", "\"\\ud800\\u0041\"", "\\ud800", "null", "-1", "0", "-0", "1e308", "-1e308", "1e-320", "2147483647", "2147483648",
        "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1.5", "NaN", "Infinity", "true", "false",
        "[]", "{}", "[", "]", "{", "}", ",", ":", "\"", "\"\"", "\"F32\"", "\"F64\"", "\"I64\"", "\"I32\"", "\"BF16\"", "[2000000000, 2000000000]",
        "[0, 18446744073709551615]", "\"__metadata__\"", "\"mlp\"", "\"cnn\"", "\"lstm\"", "\"transformer\"", "\"reference\"", "\"skipped\"",
        new string('[', 70) + new string(']', 70), "\u00e9", "\u0000", "\t\n",
    ];

    public static TheoryData<string> Readers => ["safetensors", "config", "suite", "results"];

    [Theory]
    [MemberData(nameof(Readers))]
    public void ReaderThrowsOnlyKernelLabErrors(string reader)
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("KERNELLAB_FUZZ_CASES"), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : DefaultCases;
        ulong seed = ulong.TryParse(Environment.GetEnvironmentVariable("KERNELLAB_FUZZ_SEED"), NumberStyles.None, CultureInfo.InvariantCulture, out ulong s) ? s : 20261201;
        var (seeds, read) = Reader(reader);

        var failures = new List<string>();
        int accepted = 0, rejected = 0, current = -1;
        var caseClock = new Stopwatch();
        var worker = new Thread(() =>
        {
            var random = new Random(unchecked((int)seed) ^ reader.GetHashCode(StringComparison.Ordinal));
            for (int i = 0; i < cases && failures.Count < 5; i++)
            {
                byte[] input = Mutate(seeds[random.Next(seeds.Length)], random, reader == "safetensors");
                Volatile.Write(ref current, i);
                caseClock.Restart();
                try
                {
                    read(input);
                    accepted++;
                }
                catch (KernelLabException e) when (!string.IsNullOrWhiteSpace(e.Message))
                {
                    rejected++;
                }
                catch (Exception e)
                {
                    failures.Add($"case {i} (seed {seed}): {e.GetType().Name}: {e.Message} for input {Show(input)}");
                }
                caseClock.Stop();
                if (caseClock.Elapsed > CaseLimit)
                    failures.Add($"case {i} (seed {seed}) took {caseClock.Elapsed.TotalSeconds:F1} s for input {Show(input)}");
            }
        }) { IsBackground = true };
        worker.Start();
        while (!worker.Join(TimeSpan.FromSeconds(1)))
        {
            if (caseClock.IsRunning && caseClock.Elapsed > CaseLimit)
                Assert.Fail($"{reader}: case {Volatile.Read(ref current)} (seed {seed}) has not returned after {caseClock.Elapsed.TotalSeconds:F0} s: a hang");
        }
        Assert.True(failures.Count == 0, $"{reader}: {string.Join(Environment.NewLine, failures)}");
        Assert.Equal(cases, accepted + rejected);
        Assert.True(rejected > 0, $"{reader}: every mutated input was accepted: the mutations do not reach the checks");
    }

    /// <summary>The valid files a reader's cases start from, and the reader, from bytes to whatever it builds.</summary>
    private static (byte[][] Seeds, Action<byte[]> Read) Reader(string reader) => reader switch
    {
        "safetensors" => (Files(Fixture("golden"), "*.safetensors"), bytes =>
        {
            var file = SafetensorsFile.Parse("fuzz.safetensors", bytes);
            foreach (var t in file.Tensors)
            {
                if (t.DType is DType.F32 or DType.F64)
                    file.ReadReal(t.Name, t.Shape.ToArray());
                else
                    file.ReadIndices(t.Name, t.Shape.ToArray());
            }
            _ = file.Metadata.Count;
        }),
        "config" => (Files(Fixture("golden"), "*.config.json"), bytes =>
        {
            using var doc = JsonInput.Parse(Encoding.UTF8.GetString(bytes), "fuzz.config.json");
            var config = ModelConfig.Parse(doc.RootElement, "fuzz.config.json");
            MemoryPlan.For(config, new BatchShape(1, 1), null, Precision.Float32); // builds the whole network on a counting backend
        }),
        "suite" => (Files(Path.Combine(AppContext.BaseDirectory, "suites"), "*.json"), bytes =>
        {
            using var doc = JsonInput.Parse(Encoding.UTF8.GetString(bytes), "fuzz-suite.json");
            Suite.Parse(doc.RootElement, "fuzz-suite.json");
        }),
        "results" => ([File.ReadAllBytes(Fixture("results", "sample-results.json"))], bytes =>
        {
            var document = ResultsFile.Parse(Encoding.UTF8.GetString(bytes), "fuzz-results.json");
            Comparison.Compare(document, document);
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(reader)),
    };

    private static byte[][] Files(string folder, string pattern)
    {
        byte[][] files = [.. Directory.GetFiles(folder, pattern).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];
        Assert.NotEmpty(files);
        return files;
    }

    /// <summary>One to four mutations; a safetensors file's JSON header is mostly mutated as text, its length prefix fixed up.</summary>
    private static byte[] Mutate(byte[] original, Random random, bool safetensors)
    {
        if (safetensors && random.Next(4) != 0)
        {
            int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
            byte[] header = MutateText(original.AsSpan(8, headerLength).ToArray(), random);
            byte[] data = original[(8 + headerLength)..];
            if (random.Next(8) == 0)
                data = data[..random.Next(data.Length + 1)];
            byte[] file = [.. new byte[8], .. header, .. data];
            BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
            return file;
        }
        return safetensors ? MutateBytes(original, random) : MutateText(original, random);
    }

    private static byte[] MutateText(byte[] text, Random random)
    {
        var bytes = new List<byte>(text);
        for (int m = random.Next(1, 5); m > 0; m--)
        {
            int at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0: // a token in place of the value or punctuation there
                    int end = at;
                    while (end < bytes.Count && "[]{},:".IndexOf((char)bytes[end]) < 0)
                        end++;
                    bytes.RemoveRange(at, end - at);
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(Tokens[random.Next(Tokens.Length)]));
                    break;
                case 1:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(Tokens[random.Next(Tokens.Length)]));
                    break;
                case 2: // a digit changed
                    int digit = bytes.FindIndex(at, b => b is >= (byte)'0' and <= (byte)'9');
                    if (digit >= 0)
                        bytes[digit] = (byte)('0' + random.Next(10));
                    break;
                case 3:
                    bytes.RemoveRange(at, Math.Min(random.Next(1, 16), bytes.Count - at));
                    break;
                case 4:
                    int length = Math.Min(random.Next(1, 64), bytes.Count - at);
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                default:
                    return MutateBytes([.. bytes], random);
            }
        }
        return [.. bytes];
    }

    private static byte[] MutateBytes(byte[] original, Random random)
    {
        byte[] bytes = [.. original];
        for (int m = random.Next(1, 5); m > 0 && bytes.Length > 0; m--)
        {
            int at = random.Next(bytes.Length);
            switch (random.Next(3))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                default: bytes = bytes[..at]; break;
            }
        }
        return bytes;
    }

    private static string Show(byte[] input)
    {
        string text = Encoding.UTF8.GetString(input, 0, Math.Min(input.Length, 400));
        return $"({input.Length} bytes) {text.ReplaceLineEndings(" ")}";
    }
}
