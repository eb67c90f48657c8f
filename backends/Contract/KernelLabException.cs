namespace KernelLab.Backends;

/// <summary>
/// An error the user can act on: bad input, an unavailable backend, a failed device call.
/// Its message is one line that names the file, tensor or call and what was expected; the CLI prints it as is.
/// </summary>
public class KernelLabException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Thrown when a backend is asked for on a machine where it cannot run.</summary>
public sealed class BackendUnavailableException(string backend, string reason)
    : KernelLabException($"backend '{backend}' is unavailable: {reason}")
{
    public string Backend { get; } = backend;

    public string Reason { get; } = reason;
}
