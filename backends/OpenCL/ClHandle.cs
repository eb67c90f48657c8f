using System.Runtime.InteropServices;
using Silk.NET.OpenCL;

namespace KernelLab.Backends.OpenCL;

/// <summary>
/// An OpenCL object owned by the backend, released once by Dispose or, if forgotten, by the finalizer.
/// Release never throws: its status only tells the runtime whether the release succeeded.
/// </summary>
internal abstract class ClHandle : SafeHandle
{
    protected ClHandle(CL api, nint handle)
        : base(0, ownsHandle: true)
    {
        Api = api;
        SetHandle(handle);
    }

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

    /// <summary>The API the object was created through, which releases it.</summary>
    protected CL Api { get; }

    protected static bool Released(int status) => status == (int)ErrorCodes.Success;
}

internal sealed class ClContext(CL api, nint handle) : ClHandle(api, handle)
{
    protected override bool ReleaseHandle() => Released(Api.ReleaseContext(handle));
}

internal sealed class ClQueue(CL api, nint handle) : ClHandle(api, handle)
{
    protected override bool ReleaseHandle() => Released(Api.ReleaseCommandQueue(handle));
}

internal sealed class ClMem(CL api, nint handle) : ClHandle(api, handle)
{
    protected override bool ReleaseHandle() => Released(Api.ReleaseMemObject(handle));
}

internal sealed class ClProgram(CL api, nint handle) : ClHandle(api, handle)
{
    protected override bool ReleaseHandle() => Released(Api.ReleaseProgram(handle));
}

internal sealed class ClKernel(CL api, nint handle) : ClHandle(api, handle)
{
    protected override bool ReleaseHandle() => Released(Api.ReleaseKernel(handle));
}
