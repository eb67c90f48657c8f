using KernelLab.Backends;

namespace KernelLab.Models;

/// <summary>Writes a file whole or not at all: into a temporary file beside it, flushed, then renamed over it.</summary>
public static class AtomicFile
{
    /// <summary>IO failures throw a one-line <see cref="KernelLabException"/> naming <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new KernelLabException($"{path}: cannot write: it is a directory, expected a file path");

        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        bool renamed = false;
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            renamed = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e switch
            {
                DirectoryNotFoundException => "the directory does not exist",
                UnauthorizedAccessException => "permission denied",
                _ => e.Message,
            };
            throw new KernelLabException($"{path}: cannot write: {reason}", e);
        }
        finally
        {
            if (!renamed)
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
}
