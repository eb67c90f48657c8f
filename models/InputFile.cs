using System.Text.Json;
using KernelLab.Backends;

namespace KernelLab.Models;

/// <summary>
/// Reads a file the user named (a config, a suite, a parameter or result file): every failure is one line that
/// names the file and says what was wrong with it.
/// </summary>
public static class InputFile
{
    /// <param name="what">What the file should be ("config file", "suite file"), for the messages.</param>
    public static string ReadText(string path, string what) => Read(path, what, File.ReadAllText);

    public static byte[] ReadBytes(string path, string what) => Read(path, what, File.ReadAllBytes);

    /// <summary>The file as a JSON document; invalid JSON is one line naming the file.</summary>
    public static JsonDocument ReadJson(string path, string what)
    {
        string text = ReadText(path, what);
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new KernelLabException($"{path}: invalid JSON: {e.Message.Split('\n')[0]}");
        }
    }

    private static T Read<T>(string path, string what, Func<string, T> read)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            throw new KernelLabException($"the {what} path is empty");
        if (Directory.Exists(path))
            throw new KernelLabException($"{path}: is a directory, expected a {what}");
        try
        {
            return read(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            string reason = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "file not found",
                UnauthorizedAccessException => "permission denied",
                _ => $"cannot read: {e.Message}",
            };
            throw new KernelLabException($"{path}: {reason}", e);
        }
    }
}
