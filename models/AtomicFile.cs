using KernelLab.Backends;

namespace KernelLab.Models;

/// <summary>Writes a file whole or not at all: into a temporary file beside it, flushed, then renamed over it.</summary>
public static class AtomicFile
{
    /// <summary>IO failures throw a one-line <see cref="KernelLabException"/> naming <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write) => WriteAll([(path, write)]);

    /// <summary>
    /// Writes several files all or none: every one into its temporary file first, and only when all of them are
    /// written are they renamed over their targets, in order. A failure before the renames leaves every target as it was.
    /// </summary>
    public static void WriteAll(IReadOnlyList<(string Path, Action<Stream> Write)> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var targets = new string[files.Count];
        for (int i = 0; i < files.Count; i++)
        {
            string path = files[i].Path;
            ArgumentNullException.ThrowIfNull(path);
            if (path.Length == 0)
                throw new KernelLabException("the output file path is empty");
            targets[i] = Path.GetFullPath(path);
            if (Directory.Exists(targets[i]))
                throw new KernelLabException($"{path}: cannot write: it is a directory, expected a file path");
        }

        var temps = new List<string>();
        int renamed = 0;
        try
        {
            for (int i = 0; i < files.Count; i++)
            {
                string temp = Path.Combine(Path.GetDirectoryName(targets[i])!, $".{Path.GetFileName(targets[i])}.{Guid.NewGuid():N}.tmp");
                try
                {
                    using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                    temps.Add(temp);
                    files[i].Write(stream);
                    stream.Flush(flushToDisk: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw CannotWrite(files[i].Path, e);
                }
            }
            for (; renamed < files.Count; renamed++)
            {
                try
                {
                    File.Move(temps[renamed], targets[renamed], overwrite: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw CannotWrite(files[renamed].Path, e);
                }
            }
        }
        finally
        {
            foreach (string temp in temps.Skip(renamed))
            {
                try
                {
                    File.Delete(temp);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Best effort: the write has already failed and that error is the one to report.
                }
            }
        }
    }

    private static KernelLabException CannotWrite(string path, Exception e)
    {
        string reason = e switch
        {
            DirectoryNotFoundException => "the directory does not exist",
            UnauthorizedAccessException => "permission denied",
            _ => e.Message,
        };
        return new KernelLabException($"{path}: cannot write: {reason}", e);
    }
}
