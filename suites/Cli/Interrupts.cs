using System.Runtime.InteropServices;
using KernelLab.Models;

namespace KernelLab.Cli;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM. A command that can stop cleanly (<c>run</c>) asks for <see cref="StopToken"/>: the
/// first signal cancels it, so the run ends after its current step, writes what finished and exits 130 (SIGINT) or 143
/// (SIGTERM); a second signal ends the process at once. Any other command ends at once. Either way no temporary file
/// stays behind.
/// </summary>
internal sealed class Interrupts : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration[] _registrations;
    private bool _graceful;

    public Interrupts() =>
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];

    /// <summary>The signal that stopped the command, once one has.</summary>
    public PosixSignal? Received { get; private set; }

    /// <summary>The exit status of a command stopped by <see cref="Received"/>: 128 + the signal's number, as a shell reports it.</summary>
    public int ExitCode => Received == PosixSignal.SIGTERM ? 143 : 130;

    /// <summary>Cancelled by the first SIGINT or SIGTERM from now on, instead of the process ending.</summary>
    public CancellationToken StopToken()
    {
        _graceful = true;
        return _stop.Token;
    }

    private void Handle(PosixSignalContext context)
    {
        if (_graceful && Received is null)
        {
            Received = context.Signal;
            context.Cancel = true; // the command stops itself, after its current step
            _stop.Cancel();
            return;
        }
        AtomicFile.DeletePending(); // the process ends now, by the signal's default action
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
        _stop.Dispose();
    }
}
