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
    public static string ReadText(string path, string what) => Read(path, what, File.ReadAllText);

    public static byte[] ReadBytes(string path, string what) => Read(path, what, File.ReadAllBytes);

    /// <summary>The file as a JSON document; invalid JSON is one line naming the file.</summary>
    public static JsonDocument ReadJson(string path, string what)
    {
        return JsonInput.Parse(ReadText(path, what), path);
    }

    /// <summary>
    /// False for a FIFO, a socket or a terminal, which a read would wait on for ever when no one writes to it. On Linux
    /// the path is opened without blocking (O_NONBLOCK) to ask; elsewhere, and where it cannot be opened (the read then
    /// says why), true.
    /// </summary>
    private static bool IsSeekable(string path)
    {
        if (!OperatingSystem.IsLinux())
            return true;
        const int ReadOnlyNonBlockingCloseOnExec = 0x800 | 0x80000; // O_RDONLY | O_NONBLOCK | O_CLOEXEC (x86-64 and arm64)
        int fd = open(path, ReadOnlyNonBlockingCloseOnExec);
        if (fd < 0)
            return true;
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 1);
        return stream.CanSeek;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    private static T Read<T>(string path, string what, Func<string, T> read)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            throw new KernelLabException($"the {what} path is empty");
        if (Directory.Exists(path))
            throw new KernelLabException($"{path}: is a directory, expected a {what}");
        if (!IsSeekable(path))
            throw new KernelLabException($"{path}: is a pipe, socket or character device, expected a {what} (a regular file)");
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
