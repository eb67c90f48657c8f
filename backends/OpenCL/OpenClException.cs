using System.Reflection;
using System.Runtime.CompilerServices;
using Silk.NET.Core.Attributes;
using Silk.NET.OpenCL;

namespace KernelLab.Backends.OpenCL;

/// <summary>A failed OpenCL call: the API's error name and code, and the call that returned it.</summary>
public sealed class OpenClException : KernelLabException
{
    internal OpenClException(int status, string call, string? detail = null)
        : base($"OpenCL: {ErrorName(status)} from {call}{(detail is null ? "" : ": " + detail)}")
    {
        Status = status;
        Call = call;
    }

    /// <summary>The cl_int status the call returned.</summary>
    public int Status { get; }

    /// <summary>The failing call, as written in the source.</summary>
    public string Call { get; }

    /// <summary>The one place where a native status is checked: anything but CL_SUCCESS throws.</summary>
    internal static void Check(int status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != (int)ErrorCodes.Success)
            throw new OpenClException(status, call);
    }

    /// <summary><c>CL_INVALID_KERNEL_ARGS (-52)</c>: the name cl.h gives the code, and the code.</summary>
    public static string ErrorName(int status) => $"{(Names.TryGetValue(status, out var name) ? name : "unknown OpenCL error")} ({status})";

    // cl.h's name of each error code, as Silk.NET.OpenCL's ErrorCodes records it. cl_ext.h gives -1010 to -1013 two names
    // each (the KHR and the INTEL DX9 media-sharing extensions); the first is kept.
    private static readonly Dictionary<int, string> Names = typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (Code: (int)f.GetValue(null)!, f.GetCustomAttribute<NativeNameAttribute>()!.Name))
        .DistinctBy(e => e.Code)
        .ToDictionary(e => e.Code, e => e.Name);
}
