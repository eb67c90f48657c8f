using System.Diagnostics;

namespace KernelLab.Backends;

/// <summary>Times device work. <see cref="Stop"/> waits for the work issued since <see cref="Start"/> to finish.</summary>
public interface IDeviceTimer
{
    void Start();

    /// <summary>Milliseconds of device time since <see cref="Start"/>.</summary>
    double Stop();
}

/// <summary>The timer of backends whose device is the host CPU: synchronize, then read the wall clock.</summary>
public sealed class HostTimer(Backend backend) : IDeviceTimer
{
    private long _start;

    public void Start()
    {
        backend.Synchronize();
        _start = Stopwatch.GetTimestamp();
    }

    public double Stop()
    {
        backend.Synchronize();
        return Stopwatch.GetElapsedTime(_start).TotalMilliseconds;
    }
}
