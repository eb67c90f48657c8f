using KernelLab.Backends;

namespace KernelLab.Models;

/// <summary>The folder a command writes into (a run's results, a report): created with its parents, or one line saying why not.</summary>
public static class OutputFolder
{
    public static void Create(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            throw new KernelLabException("the output folder path is empty");
        if (File.Exists(path))
            throw new KernelLabException($"{path}: cannot create the output folder: a file of that name exists");
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            string reason = e is UnauthorizedAccessException ? "permission denied" : e.Message.ReplaceLineEndings(" ");
            throw new KernelLabException($"{path}: cannot create the output folder: {reason}", e);
        }
    }
}
