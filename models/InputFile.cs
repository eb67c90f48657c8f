using System.Runtime.InteropServices;
using System.Text.Json;
using KernelLab.Backends;
using Microsoft.Win32.SafeHandles;

namespace KernelLab.Models;

/// <summary>
/// Reads a file the user named (a config, a suite, a parameter or result file): every failure is one line that
/// names the file and says what was wrong with it.
/// </summary>
public static class InputFile
{
    /// <param name="what">What the file should be ("config file", "suite file"), for the messages.</param>
    public static string ReadText(string path, string what) => Read(path, what, stream =>
    {
        using var reader = new StreamReader(stream); // UTF-8, a byte-order mark detected, as File.ReadAllText reads
        return reader.ReadToEnd();
    });

    public static byte[] ReadBytes(string path, string what) => Read(path, what, stream =>
    {
        if (stream.Length > Array.MaxLength)
            throw new IOException($"the file is {stream.Length} bytes, more than one array holds");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    });

    /// <summary>The file as a JSON document; invalid JSON is one line naming the file.</summary>
    public static JsonDocument ReadJson(string path, string what)
    {
        return JsonInput.Parse(ReadText(path, what), path);
    }

    /// <summary>
    /// Opens the file to read. On Linux it is opened without blocking (O_NONBLOCK), so that a FIFO, a socket or a
    /// terminal, which a read would wait on for ever when no one writes to it, is refused here; where that open fails,
    /// File.OpenRead's exception says why.
    /// </summary>
    private static FileStream Open(string path, string what)
    {
        if (OperatingSystem.IsLinux())
        {
            const int ReadOnlyNonBlockingCloseOnExec = 0x800 | 0x80000; // O_RDONLY | O_NONBLOCK | O_CLOEXEC (x86-64 and arm64)
            int fd = open(path, ReadOnlyNonBlockingCloseOnExec);
            if (fd >= 0)
            {
                var handle = new SafeFileHandle(fd, ownsHandle: true);
                FileStream stream;
                try
                {
                    stream = new FileStream(handle, FileAccess.Read);
                }
                catch
                {
                    handle.Dispose();
                    throw;
                }
                if (stream.CanSeek)
                    return stream;
                stream.Dispose();
                throw new KernelLabException($"{path}: is a pipe, socket or character device, expected a {what} (a regular file)");
            }
        }
        return File.OpenRead(path);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    /// <summary>
    /// Opens the file as the other readers do (a FIFO refused, a directory named as such) and hands the stream to
    /// <paramref name="read"/>, for a format read as a stream (a gzipped file); an I/O failure there is one line too.
    /// </summary>
    public static T Read<T>(string path, string what, Func<FileStream, T> read)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            throw new KernelLabException($"the {what} path is empty");
        if (Directory.Exists(path))
            throw new KernelLabException($"{path}: is a directory, expected a {what}");
        try
        {
            using var stream = Open(path, what);
            return read(stream);
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
