using System.Text;
using System.Text.Json;
using KernelLab.Backends;

namespace KernelLab.Models;

/// <summary>
/// Parses JSON that a user gave (a config, a suite, a results file, a safetensors header): the one place where
/// KernelLab turns such text into a <see cref="JsonDocument"/>. System.Text.Json accepts a string that holds a lone
/// UTF-16 surrogate escape (<c>"\ud800"</c>) while it parses, and throws <see cref="InvalidOperationException"/> only
/// when that string is read; here every string and property name is decoded once, up front, so that a reader that
/// gets a document never meets that exception and the user gets one line naming the file and where in it.
/// </summary>
public static class JsonInput
{
    /// <param name="source">The file, or the part of it, for the message: "{source}: invalid JSON: ...".</param>
    public static JsonDocument Parse(string text, string source) => Checked(() => JsonDocument.Parse(text), source);

    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, string source) => Checked(() => JsonDocument.Parse(utf8), source);

    private static JsonDocument Checked(Func<JsonDocument> parse, string source)
    {
        JsonDocument doc;
        try
        {
            doc = parse();
        }
        catch (JsonException e)
        {
            throw new KernelLabException($"{source}: invalid JSON: {e.Message.Split('\n')[0]}");
        }
        try
        {
            CheckStrings(doc.RootElement, new StringBuilder("$"), source);
            return doc;
        }
        catch
        {
            doc.Dispose();
            throw;
        }
    }

    /// <summary>Decodes every string and property name below <paramref name="e"/> (JsonDocument bounds the depth at 64).</summary>
    private static void CheckStrings(JsonElement e, StringBuilder path, string source)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                Decode(() => e.GetString(), path, source);
                break;
            case JsonValueKind.Array:
                int index = 0;
                foreach (var item in e.EnumerateArray())
                {
                    int length = path.Length;
                    CheckStrings(item, path.Append('[').Append(index++).Append(']'), source);
                    path.Length = length;
                }
                break;
            case JsonValueKind.Object:
                foreach (var property in e.EnumerateObject())
                {
                    string name = Decode(() => property.Name, path, source);
                    int length = path.Length;
                    CheckStrings(property.Value, path.Append('.').Append(name), source);
                    path.Length = length;
                }
                break;
        }
    }

    private static string Decode(Func<string?> read, StringBuilder path, string source)
    {
        try
        {
            return read() ?? "";
        }
        catch (InvalidOperationException e)
        {
            throw new KernelLabException($"{source}: invalid JSON: a string at {path} is not valid Unicode ({e.Message.TrimEnd('.')}): a \\u escape there is half of a surrogate pair");
        }
    }
}
