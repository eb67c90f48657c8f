using System.Text.Json;
using System.Text.Json.Serialization;
using KernelLab.Backends;
using KernelLab.Models;

namespace KernelLab.Results;

/// <summary>Reads and writes <c>results.json</c>, and the ops files of <c>kernellab ops</c> (<see cref="OpsDocument"/>).</summary>
public static class ResultsFile
{
    public const string FileName = "results.json";

    /// <summary>The name an ops file takes in a results folder, where <c>kernellab report</c> finds it beside results.json.</summary>
    public static string OpsFileName(string backend) => $"ops-{backend}.json";

    public const string OpsFilePattern = "ops-*.json";

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true, // an ops file's fields without a default (OpsDocument)
    };

    /// <summary>Writes the whole file atomically: a reader never sees half of it, and a crash keeps the last whole version.</summary>
    public static void Write(string path, ResultsDocument document) =>
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, document, Options));

    public static void Write(string path, OpsDocument document) =>
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
        var document = Parse<ResultsDocument>(json, source, "a KernelLab result file", d => d.Schema, ResultsDocument.SchemaName);
        NoNullEntries(document.Runs, "runs", source);
        NoNullEntries(document.Machine.Gpus, "machine.gpus", source);
        NoNullEntries(document.Machine.OpenclDevices, "machine.opencl_devices", source);
        NoNullEntries(document.Machine.Devices, "machine.devices", source);
        NoNullEntries(document.Plan, "plan", source);
        NoNullEntries(document.MergedFrom, "merged_from", source);
        return document;
    }

    public static OpsDocument LoadOps(string path) => ParseOps(InputFile.ReadText(path, "ops file"), path);

    public static OpsDocument ParseOps(string json, string source)
    {
        var document = Parse<OpsDocument>(json, source, "a kernellab ops file", d => d.Schema, OpsDocument.SchemaName);
        NoNullEntries(document.Ops, "ops", source);
        return document;
    }

    /// <summary>Whether <paramref name="path"/> is an ops file (its schema says so) rather than a results file.</summary>
    public static bool IsOpsFile(string path)
    {
        using var doc = InputFile.ReadJson(path, "results or ops file");
        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("schema", out var schema)
            && schema.ValueKind == JsonValueKind.String && schema.GetString() == OpsDocument.SchemaName;
    }

    private static T Parse<T>(string json, string source, string what, Func<T, string> schemaOf, string expected) where T : class
    {
        T? document;
        using (var doc = JsonInput.Parse(json, source))
        {
            try
            {
                document = doc.Deserialize<T>(Options);
            }
            catch (JsonException e)
            {
                throw new KernelLabException($"{source}: not {what}: {e.Message.Split('\n')[0]}");
            }
        }
        if (document is null)
            throw new KernelLabException($"{source}: not {what}: it is null");
        if (schemaOf(document) != expected)
            throw new KernelLabException($"{source}: schema is '{schemaOf(document)}', expected '{expected}'");
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
