using System.Collections.Concurrent;
using System.Globalization;
using KernelLab.Backends;

namespace KernelLab.Models;

/// <summary>
/// Writes a file whole or not at all: into a temporary file beside it (<c>.NAME.PID.GUID.tmp</c>), flushed, then
/// renamed over it. Temporary files are removed on every way out that the process lives through: a failed write, a
/// normal exit, and SIGINT or SIGTERM (<see cref="DeletePending"/>, called by the command line's signal handler). A
/// process killed outright (SIGKILL, the OOM killer) cannot clean up: the next write of the same file removes the
/// temporary files of processes that no longer run.
/// </summary>
public static class AtomicFile
{
    private static readonly ConcurrentDictionary<string, byte> Pending = new();

    static AtomicFile() => AppDomain.CurrentDomain.ProcessExit += (_, _) => DeletePending();

    /// <summary>Deletes every temporary file this process is writing (best effort: it runs while the process ends).</summary>
    public static void DeletePending()
    {
        foreach (string temp in Pending.Keys)
            TryDelete(temp);
    }

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
                DeleteOrphans(targets[i]);
                string temp = Path.Combine(Path.GetDirectoryName(targets[i])!, $".{Path.GetFileName(targets[i])}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
                try
                {
                    Pending.TryAdd(temp, 0);
                    temps.Add(temp);
                    using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
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
                    Pending.TryRemove(temps[renamed], out _);
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
                TryDelete(temp); // the write has already failed, and that error is the one to report
                Pending.TryRemove(temp, out _);
            }
        }
    }

    /// <summary>Removes the temporary files of <paramref name="target"/> that processes no longer running left behind (Linux: /proc/PID).</summary>
    private static void DeleteOrphans(string target)
    {
        string? directory = Path.GetDirectoryName(target);
        if (!OperatingSystem.IsLinux() || directory is null || !Directory.Exists(directory))
            return;
        string prefix = $".{Path.GetFileName(target)}.";
        try
        {
            foreach (string temp in Directory.EnumerateFiles(directory, prefix + "*.tmp"))
            {
                string[] parts = Path.GetFileName(temp)[prefix.Length..].Split('.');
                if (parts is [var pid, _, "tmp"] && int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out int id)
                    && id != Environment.ProcessId && !Directory.Exists($"/proc/{id}"))
                    TryDelete(temp);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The folder cannot be listed: the write below reports what is wrong with it.
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: nothing more can be done about a file that cannot be removed.
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
