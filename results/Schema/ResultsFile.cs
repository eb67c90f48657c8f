using System.Text.Json;
using System.Text.Json.Serialization;
using KernelLab.Backends;
using KernelLab.Models;

namespace KernelLab.Results;

/// <summary>Reads and writes <c>results.json</c>.</summary>
public static class ResultsFile
{
    public const string FileName = "results.json";

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        RespectNullableAnnotations = true,
    };

    /// <summary>Writes the whole file atomically: a reader never sees half of it, and a crash keeps the last whole version.</summary>
    public static void Write(string path, ResultsDocument document) =>
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, document, Options));

    public static string Serialize(ResultsDocument document) => JsonSerializer.Serialize(document, Options);

    /// <summary>A results file, or a folder holding one.</summary>
    public static ResultsDocument Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        return Parse(InputFile.ReadText(file, "results file"), file);
    }

    public static ResultsDocument Parse(string json, string source)
    {
        ResultsDocument? document;
        using (var doc = JsonInput.Parse(json, source))
        {
            try
            {
                document = doc.Deserialize<ResultsDocument>(Options);
            }
            catch (JsonException e)
            {
                throw new KernelLabException($"{source}: not a KernelLab result file: {e.Message.Split('\n')[0]}");
            }
        }
        if (document is null)
            throw new KernelLabException($"{source}: not a KernelLab result file: it is null");
        if (document.Schema != ResultsDocument.SchemaName)
            throw new KernelLabException($"{source}: schema is '{document.Schema}', expected '{ResultsDocument.SchemaName}'");
        NoNullEntries(document.Runs, "runs", source);
        NoNullEntries(document.Machine.Gpus, "machine.gpus", source);
        NoNullEntries(document.Machine.OpenclDevices, "machine.opencl_devices", source);
        NoNullEntries(document.Machine.Devices, "machine.devices", source);
        NoNullEntries(document.Plan, "plan", source);
        NoNullEntries(document.MergedFrom, "merged_from", source);
        return document;
    }

    /// <summary>
    /// The serializer checks that a non-nullable property is not null, but not the entries of a list: a
    /// <c>null</c> among the runs would reach compare and report as a null record.
    /// </summary>
    private static void NoNullEntries<T>(IReadOnlyList<T>? list, string field, string source) where T : class
    {
        int index = list is null ? -1 : list.ToList().FindIndex(x => x is null);
        if (index >= 0)
            throw new KernelLabException($"{source}: '{field}[{index}]' is null, expected an object");
    }
}
