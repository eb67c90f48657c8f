using System.Runtime.InteropServices;

namespace KernelLab.Backends.OpenCL;

/// <summary>
/// An OpenCL object owned by the backend, released once by Dispose or, if forgotten, by the finalizer.
/// Release never throws: its status only tells the runtime whether the release succeeded.
/// </summary>
internal abstract class ClHandle : SafeHandle
{
    protected ClHandle(nint handle)
        : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    /// <summary>The raw handle, for a call made while this object is referenced; once released, a call fails here rather than in the driver.</summary>
    public nint Value
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }
}

internal sealed class ClContext(nint handle) : ClHandle(handle)
{
    protected override bool ReleaseHandle() => Native.clReleaseContext(handle) == Native.Success;
}

internal sealed class ClQueue(nint handle) : ClHandle(handle)
{
    protected override bool ReleaseHandle() => Native.clReleaseCommandQueue(handle) == Native.Success;
}

internal sealed class ClMem(nint handle) : ClHandle(handle)
{
    protected override bool ReleaseHandle() => Native.clReleaseMemObject(handle) == Native.Success;
}

internal sealed class ClProgram(nint handle) : ClHandle(handle)
{
    protected override bool ReleaseHandle() => Native.clReleaseProgram(handle) == Native.Success;
}

internal sealed class ClKernel(nint handle) : ClHandle(handle)
{
    protected override bool ReleaseHandle() => Native.clReleaseKernel(handle) == Native.Success;
}
