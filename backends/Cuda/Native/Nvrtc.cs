using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace KernelLab.Backends.Cuda.Native;

/// <summary>
/// One loaded NVRTC library (nvrtc.h). Its soname carries the CUDA version, so the calls are function pointers taken from
/// whichever library <see cref="Load"/> found, not a [LibraryImport] of one fixed name.
/// </summary>
internal sealed unsafe class Nvrtc
{
    /// <summary>The sonames tried, newest first.</summary>
    public static IReadOnlyList<string> Candidates { get; } = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"];

    private const int Success = 0; // NVRTC_SUCCESS

    private readonly delegate* unmanaged<int*, int*, int> _version;
    private readonly delegate* unmanaged<int*, int> _getNumSupportedArchs;
    private readonly delegate* unmanaged<int*, int> _getSupportedArchs;
    private readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> _createProgram;
    private readonly delegate* unmanaged<nint, int, byte**, int> _compileProgram;
    private readonly delegate* unmanaged<nint, nuint*, int> _getProgramLogSize;
    private readonly delegate* unmanaged<nint, byte*, int> _getProgramLog;
    private readonly delegate* unmanaged<nint, nuint*, int> _getPtxSize;
    private readonly delegate* unmanaged<nint, byte*, int> _getPtx;
    private readonly delegate* unmanaged<nint*, int> _destroyProgram;
    private readonly delegate* unmanaged<int, byte*> _getErrorString;

    private Nvrtc(string path, nint library)
    {
        Path = path;
        _version = (delegate* unmanaged<int*, int*, int>)NativeLibrary.GetExport(library, "nvrtcVersion");
        _createProgram = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)NativeLibrary.GetExport(library, "nvrtcCreateProgram");
        _compileProgram = (delegate* unmanaged<nint, int, byte**, int>)NativeLibrary.GetExport(library, "nvrtcCompileProgram");
        _getProgramLogSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(library, "nvrtcGetProgramLogSize");
        _getProgramLog = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(library, "nvrtcGetProgramLog");
        _getPtxSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibrary.GetExport(library, "nvrtcGetPTXSize");
        _getPtx = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(library, "nvrtcGetPTX");
        _destroyProgram = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(library, "nvrtcDestroyProgram");
        _getErrorString = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(library, "nvrtcGetErrorString");
        // Since CUDA 11.2; an older NVRTC leaves the architecture unchecked until it compiles.
        if (NativeLibrary.TryGetExport(library, "nvrtcGetNumSupportedArchs", out nint count)
            && NativeLibrary.TryGetExport(library, "nvrtcGetSupportedArchs", out nint archs))
        {
            _getNumSupportedArchs = (delegate* unmanaged<int*, int>)count;
            _getSupportedArchs = (delegate* unmanaged<int*, int>)archs;
        }
        int major, minor;
        Check(_version(&major, &minor), "nvrtcVersion");
        Version = new Version(major, minor);
    }

    /// <summary>The library's file name as loaded.</summary>
    public string Path { get; }

    /// <summary>The CUDA version NVRTC belongs to (PTX it writes needs a driver of at least this version).</summary>
    public Version Version { get; }

    /// <summary>
    /// The newest NVRTC found whose version the driver can run (<paramref name="driverVersion"/> as cuDriverGetVersion
    /// reports it, 12040 for 12.4; null when there is no driver, as for <c>kernels check</c>), else the newest found.
    /// Throws <see cref="KernelLabException"/> when there is none.
    /// </summary>
    public static Nvrtc Load(int? driverVersion)
    {
        var found = new List<Nvrtc>();
        foreach (string candidate in Candidates)
        {
            if (!NativeLibrary.TryLoad(candidate, out nint library))
                continue;
            Nvrtc nvrtc;
            try
            {
                nvrtc = new Nvrtc(candidate, library);
            }
            catch (Exception e) when (e is EntryPointNotFoundException or CudaException)
            {
                continue;
            }
            if (driverVersion is not { } driver || nvrtc.Version.Major * 1000 + nvrtc.Version.Minor * 10 <= driver)
                return nvrtc;
            found.Add(nvrtc);
        }
        return found.FirstOrDefault()
            ?? throw new KernelLabException($"NVRTC not found: none of {string.Join(", ", Candidates)} could be loaded (on Debian: apt-get install libnvrtc11.2 from the non-free component)");
    }

    /// <summary>The virtual architectures this NVRTC compiles for (80 for compute_80), or null when it cannot say.</summary>
    public IReadOnlyList<int>? SupportedArchitectures()
    {
        if (_getNumSupportedArchs == null)
            return null;
        int count;
        Check(_getNumSupportedArchs(&count), "nvrtcGetNumSupportedArchs");
        var archs = new int[count];
        fixed (int* p = archs)
            Check(_getSupportedArchs(p), "nvrtcGetSupportedArchs");
        return archs;
    }

    /// <summary>The outcome of one compilation: PTX when it succeeded, and NVRTC's log either way.</summary>
    public readonly record struct Compilation(bool Succeeded, string? Ptx, string Log, string? ErrorName);

    /// <summary>Compiles <paramref name="source"/> with the given headers; a compile error is returned, any other failure throws.</summary>
    public Compilation Compile(string name, string source, IReadOnlyList<(string Name, string Text)> headers, IReadOnlyList<string> options)
    {
        var pinned = new List<GCHandle>();
        try
        {
            byte* Utf8(string s)
            {
                var handle = GCHandle.Alloc(Encoding.UTF8.GetBytes(s + "\0"), GCHandleType.Pinned);
                pinned.Add(handle);
                return (byte*)handle.AddrOfPinnedObject();
            }

            var headerTexts = stackalloc byte*[headers.Count];
            var headerNames = stackalloc byte*[headers.Count];
            for (int i = 0; i < headers.Count; i++)
            {
                headerTexts[i] = Utf8(headers[i].Text);
                headerNames[i] = Utf8(headers[i].Name);
            }
            var optionTexts = stackalloc byte*[options.Count];
            for (int i = 0; i < options.Count; i++)
                optionTexts[i] = Utf8(options[i]);

            nint program;
            Check(_createProgram(&program, Utf8(source), Utf8(name), headers.Count, headerTexts, headerNames), "nvrtcCreateProgram");
            try
            {
                int compiled = _compileProgram(program, options.Count, optionTexts);
                string log = ProgramLog(program);
                if (compiled != Success)
                {
                    // A compile error is the source's fault and comes back with its log; anything else is NVRTC failing.
                    if (compiled != CompilationError)
                        Check(compiled, $"nvrtcCompileProgram({name})");
                    return new Compilation(false, null, log, ErrorString(compiled));
                }
                nuint size;
                Check(_getPtxSize(program, &size), "nvrtcGetPTXSize");
                var ptx = new byte[size];
                fixed (byte* p = ptx)
                    Check(_getPtx(program, p), "nvrtcGetPTX");
                return new Compilation(true, Encoding.UTF8.GetString(ptx).TrimEnd('\0'), log, null);
            }
            finally
            {
                _destroyProgram(&program);
            }
        }
        finally
        {
            foreach (var handle in pinned)
                handle.Free();
        }
    }

    private const int CompilationError = 6; // NVRTC_ERROR_COMPILATION

    private string ProgramLog(nint program)
    {
        nuint size;
        Check(_getProgramLogSize(program, &size), "nvrtcGetProgramLogSize");
        var log = new byte[size];
        fixed (byte* p = log)
            Check(_getProgramLog(program, p), "nvrtcGetProgramLog");
        return Encoding.UTF8.GetString(log).TrimEnd('\0').Trim();
    }

    private string ErrorString(int result) => Marshal.PtrToStringUTF8((nint)_getErrorString(result)) ?? $"nvrtcResult {result}";

    /// <summary>The one check of every NVRTC call: throws <see cref="CudaException"/> with nvrtcGetErrorString's name and the call.</summary>
    private void Check(int result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != Success)
            throw new CudaException(ErrorString(result), call);
    }
}
