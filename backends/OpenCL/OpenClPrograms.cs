using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Silk.NET.OpenCL;
using static KernelLab.Backends.OpenCL.OpenClException;

namespace KernelLab.Backends.OpenCL;

/// <summary>
/// The kernel sources of kernels/opencl, embedded in this assembly, and the programs and kernels built from them
/// for one context. A source is built the first time one of its kernels is asked for, once per context. The
/// built binary is kept per device for the whole process, so that the next context on the same device (every
/// test creates a backend) loads it instead of compiling again.
/// </summary>
internal sealed unsafe class OpenClPrograms(CL cl, ClContext context, nint device) : IDisposable
{
    /// <summary>Work-group size of every reducing kernel; the sources see it as REDUCE_GROUP.</summary>
    public const int ReduceGroup = 64;

    private const string ResourcePrefix = "kernels/opencl/";
    private const string CommonHeader = "common.clh";
    private static readonly string BuildOptions = $"-D REDUCE_GROUP={ReduceGroup}";

    /// <summary>Source file name to its text.</summary>
    public static IReadOnlyDictionary<string, string> Sources { get; } = LoadSources();

    private static readonly string Common = ReadResource(CommonHeader);

    private static readonly ConcurrentDictionary<(nint Device, string Source), byte[]> Binaries = new();

    // One build at a time in the process: an OpenCL compiler need not be reentrant (PoCL's is LLVM), and builds are
    // rare (once per source and context, and from a cached binary after the first).
    private static readonly Lock BuildLock = new();

    private readonly Dictionary<string, ClProgram> _programs = [];
    private readonly Dictionary<string, ClKernel> _kernels = [];

    /// <summary>The kernel named <paramref name="name"/> of <paramref name="source"/> (a file of kernels/opencl), building the source on first use.</summary>
    public ClKernel Kernel(string source, string name)
    {
        if (_kernels.TryGetValue(name, out var kernel))
            return kernel;
        if (!_programs.TryGetValue(source, out var program))
        {
            program = Build(source, useCachedBinary: true);
            _programs.Add(source, program);
        }
        int status;
        nint handle = cl.CreateKernel(program.Value, name, &status);
        Check(status, $"clCreateKernel({name})");
        kernel = new ClKernel(cl, handle);
        _kernels.Add(name, kernel);
        return kernel;
    }

    /// <summary>Builds every source from its text, timing each; a failure is reported with its log, not thrown.</summary>
    public IReadOnlyList<KernelCheckResult> CheckAll(string target)
    {
        var results = new List<KernelCheckResult>();
        foreach (var source in Sources.Keys.Order())
        {
            var clock = Stopwatch.StartNew();
            try
            {
                using var program = Build(source, useCachedBinary: false);
                results.Add(new KernelCheckResult(source, target, true, clock.Elapsed, BuildLog(program.Value)));
            }
            catch (OpenClException e)
            {
                results.Add(new KernelCheckResult(source, target, false, clock.Elapsed, e.Message));
            }
        }
        return results;
    }

    /// <summary>Creates and builds the program of one source; a build failure throws with the compiler's log.</summary>
    private ClProgram Build(string source, bool useCachedBinary)
    {
        lock (BuildLock)
            return BuildLocked(source, useCachedBinary);
    }

    private ClProgram BuildLocked(string source, bool useCachedBinary)
    {
        var program = useCachedBinary && Binaries.TryGetValue((device, source), out var binary)
            ? FromBinary(binary, source)
            : FromSource(source);
        nint d = device;
        int status = cl.BuildProgram(program.Value, 1, &d, BuildOptions, null, null);
        if (status != (int)ErrorCodes.Success)
        {
            string log = BuildLog(program.Value);
            program.Dispose();
            throw new OpenClException(status, $"clBuildProgram({source})", $"build log:{Environment.NewLine}{log}");
        }
        if (useCachedBinary)
            Binaries.TryAdd((device, source), ReadBinary(program.Value));
        return program;
    }

    private ClProgram FromSource(string source)
    {
        // The common header first; #line makes the compiler's messages name the source file and its own lines.
        string text = $"{Common}\n#line 1 \"{source}\"\n{Sources[source]}";
        int status;
        nint handle = cl.CreateProgramWithSource(context.Value, 1, [text], null, &status); // UTF-8, null-terminated
        Check(status, $"clCreateProgramWithSource({source})");
        return new ClProgram(cl, handle);
    }

    private ClProgram FromBinary(byte[] binary, string source)
    {
        int status, binaryStatus;
        nint handle, d = device;
        fixed (byte* b = binary)
        {
            byte* binaries = b;
            nuint length = (nuint)binary.Length;
            handle = cl.CreateProgramWithBinary(context.Value, 1, &d, &length, &binaries, &binaryStatus, &status);
        }
        Check(status, $"clCreateProgramWithBinary({source})");
        var program = new ClProgram(cl, handle);
        if (binaryStatus != (int)ErrorCodes.Success)
        {
            program.Dispose();
            throw new OpenClException(binaryStatus, $"clCreateProgramWithBinary({source}) binary status");
        }
        return program;
    }

    private byte[] ReadBinary(nint program)
    {
        nuint size;
        Check(cl.GetProgramInfo(program, ProgramInfo.BinarySizes, (nuint)sizeof(nuint), &size, null));
        var binary = new byte[size];
        fixed (byte* b = binary)
        {
            byte* pointer = b;
            Check(cl.GetProgramInfo(program, ProgramInfo.Binaries, (nuint)sizeof(nint), &pointer, null));
        }
        return binary;
    }

    private string BuildLog(nint program)
    {
        nuint size;
        if (cl.GetProgramBuildInfo(program, device, ProgramBuildInfo.BuildLog, 0, null, &size) != (int)ErrorCodes.Success)
            return "(no build log)";
        var bytes = new byte[size];
        fixed (byte* b = bytes)
            if (cl.GetProgramBuildInfo(program, device, ProgramBuildInfo.BuildLog, size, b, null) != (int)ErrorCodes.Success)
                return "(no build log)";
        return Encoding.UTF8.GetString(bytes).TrimEnd('\0').Trim();
    }

    public void Dispose()
    {
        foreach (var kernel in _kernels.Values)
            kernel.Dispose();
        foreach (var program in _programs.Values)
            program.Dispose();
    }

    private static Dictionary<string, string> LoadSources() =>
        typeof(OpenClPrograms).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".cl", StringComparison.Ordinal))
            .ToDictionary(n => n[ResourcePrefix.Length..], n => ReadResource(n[ResourcePrefix.Length..]));

    private static string ReadResource(string file)
    {
        using var stream = typeof(OpenClPrograms).Assembly.GetManifestResourceStream(ResourcePrefix + file)
            ?? throw new InvalidOperationException($"kernel source {file} is not embedded in {typeof(OpenClPrograms).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
