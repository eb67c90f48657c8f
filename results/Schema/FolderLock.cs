using System.Globalization;
using KernelLab.Backends;

namespace KernelLab.Results;

/// <summary>
/// A results folder held by the one process that writes it: a second <c>kernellab run</c> into the same folder is
/// refused with one line naming the holder, instead of the last writer silently dropping the other's runs. The lock is
/// the operating system's (an exclusive lock on <c>.lock</c>, released when the holder ends however it ends); who holds
/// it is written beside it, in <c>.lock.owner</c>, for the message.
/// </summary>
public sealed class FolderLock : IDisposable
{
    private const string LockName = ".lock", OwnerName = ".lock.owner";

    private readonly FileStream _lock;
    private readonly string _folder;

    private FolderLock(FileStream lockFile, string folder)
    {
        _lock = lockFile;
        _folder = folder;
    }

    /// <param name="holder">What holds it, for another process's message ("kernellab run suites/smoke.json").</param>
    public static FolderLock Acquire(string folder, string holder)
    {
        string path = Path.Combine(folder, LockName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(path))
        {
            string owner = ReadOwner(folder);
            throw new KernelLabException($"{folder}: another process is writing these results ({owner}); wait for it to end or choose another --out");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KernelLabException($"{path}: cannot lock the results folder: {(e is UnauthorizedAccessException ? "permission denied" : e.Message)}", e);
        }
        try
        {
            File.WriteAllText(Path.Combine(folder, OwnerName),
                $"{holder}, pid {Environment.ProcessId} on {Environment.MachineName}, since {DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stream.Dispose();
            throw new KernelLabException($"{folder}: cannot write {OwnerName}: {e.Message}", e);
        }
        return new FolderLock(stream, folder);
    }

    private static string ReadOwner(string folder)
    {
        try
        {
            return File.ReadAllText(Path.Combine(folder, OwnerName)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "its owner is not recorded";
        }
    }

    /// <summary>Removes the owner note and the lock file, then releases the lock.</summary>
    public void Dispose()
    {
        try
        {
            File.Delete(Path.Combine(_folder, OwnerName));
            File.Delete(Path.Combine(_folder, LockName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The lock is released below all the same; a stale .lock file holds nothing.
        }
        _lock.Dispose();
    }
}
