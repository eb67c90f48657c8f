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
        try
        {
            document = JsonSerializer.Deserialize<ResultsDocument>(json, Options);
        }
        catch (JsonException e)
        {
            throw new KernelLabException($"{source}: not a KernelLab result file: {e.Message.Split('\n')[0]}");
        }
        if (document is null)
            throw new KernelLabException($"{source}: not a KernelLab result file: it is null");
        if (document.Schema != ResultsDocument.SchemaName)
            throw new KernelLabException($"{source}: schema is '{document.Schema}', expected '{ResultsDocument.SchemaName}'");
        return document;
    }
}
