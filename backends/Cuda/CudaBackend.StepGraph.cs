using static KernelLab.Backends.Cuda.Native.CudaDriver;

namespace KernelLab.Backends.Cuda;

// A training step as one CUDA graph launch: the launches a step queues are recorded (not run), built once into a graph of
// kernel nodes, and from then on each step's launches are compared with the graph's: the arguments that changed (the
// dropout step, Adam's bias corrections, a scheduled learning rate) are written into their nodes, and the graph is launched.
public sealed unsafe partial class CudaBackend
{
    private CudaStepGraph? _recording; // the step being recorded, whose launches wait for its end; null: launches go as they come

    public override StepGraph CreateStepGraph() => new CudaStepGraph(this);

    /// <summary>One launch of the step: its shape, the arguments of the latest run, and its node in the graph (0 before one is built).</summary>
    private sealed class RecordedLaunch(LaunchShape shape, ReadOnlySpan<KernelArgument> arguments)
    {
        public LaunchShape Shape = shape;
        public KernelArgument[] Arguments = arguments.ToArray();
        public nint Node;
        public bool Changed; // arguments differ from the node's
    }

    /// <summary>
    /// The recorded step. The graph is a chain of kernel nodes in launch order, as the one stream would run them. It is
    /// (re)built when a step's launches differ from the graph's in anything but their arguments (another kernel, grid,
    /// block or count); a step interrupted by a copy, synchronize, allocation or free runs op by op and has the graph
    /// rebuilt from the next run.
    /// </summary>
    private sealed class CudaStepGraph(CudaBackend backend) : StepGraph
    {
        private readonly List<RecordedLaunch> _launches = [];
        private int _count;    // launches recorded in this run
        private bool _rebuild; // the graph no longer matches the launches
        private nint _graph, _exec;

        public override void Run<TState>(Action<TState> step, TState state)
        {
            if (backend._recording is not null)
                throw new InvalidOperationException("a step graph runs inside another step graph's step");
            ObjectDisposedException.ThrowIf(backend._disposed, backend);
            _count = 0;
            backend._recording = this;
            try
            {
                step(state);
            }
            catch
            {
                // The launches not yet run are dropped with the step that failed; the next run starts a graph anew.
                if (backend._recording == this)
                    backend._recording = null;
                _rebuild = true;
                throw;
            }
            if (backend._recording != this)
                return; // interrupted: this run's launches have run one by one
            backend._recording = null;
            if (_count != _launches.Count)
            {
                _launches.RemoveRange(_count, _launches.Count - _count);
                _rebuild = true;
            }
            if (_count == 0)
                return;
            if (_exec == 0 || _rebuild)
                Build();
            else
                Update();
            backend.Enter();
            Check(cuGraphLaunch(_exec, backend._stream));
        }

        /// <summary>Launch <c>_count</c> of this run: compared with the graph's launch at the same place.</summary>
        public void Record(in LaunchShape shape, ReadOnlySpan<KernelArgument> arguments)
        {
            int i = _count++;
            if (i == _launches.Count)
            {
                _launches.Add(new RecordedLaunch(shape, arguments));
                _rebuild = true;
                return;
            }
            var launch = _launches[i];
            if (launch.Shape != shape || launch.Arguments.Length != arguments.Length)
            {
                _launches[i] = new RecordedLaunch(shape, arguments);
                _rebuild = true;
            }
            else if (!arguments.SequenceEqual(launch.Arguments))
            {
                arguments.CopyTo(launch.Arguments);
                launch.Changed = true;
            }
        }

        /// <summary>A call other than a launch inside the step: the launches recorded so far run now, in order, and the rest of the step op by op.</summary>
        public void Interrupt()
        {
            backend._recording = null;
            for (int i = 0; i < _count; i++)
                backend.LaunchNow(_launches[i].Shape, _launches[i].Arguments);
            _rebuild = true;
        }

        /// <summary>A new graph of the recorded launches, each node depending on the one before, instantiated.</summary>
        private void Build()
        {
            Release();
            backend.Enter();
            nint graph, exec, previous = 0;
            Check(cuGraphCreate(&graph, 0));
            _graph = graph;
            ulong* values = stackalloc ulong[MostArguments];
            nint* pointers = stackalloc nint[MostArguments];
            foreach (var launch in _launches)
            {
                var parameters = Parameters(launch, values, pointers);
                nint node;
                Check(GraphAddKernelNode(&node, _graph, previous == 0 ? null : &previous, previous == 0 ? 0u : 1u, &parameters),
                    $"cuGraphAddKernelNode({launch.Shape.Kernel.Name})");
                launch.Node = previous = node;
                launch.Changed = false;
            }
            Check(cuGraphInstantiateWithFlags(&exec, _graph, 0));
            _exec = exec;
            _rebuild = false;
        }

        /// <summary>Writes the arguments that changed since the last run into their nodes of the instantiated graph (the driver copies them).</summary>
        private void Update()
        {
            ulong* values = stackalloc ulong[MostArguments];
            nint* pointers = stackalloc nint[MostArguments];
            foreach (var launch in _launches)
            {
                if (!launch.Changed)
                    continue;
                var parameters = Parameters(launch, values, pointers);
                backend.Enter();
                Check(GraphExecKernelNodeSetParams(_exec, launch.Node, &parameters), $"cuGraphExecKernelNodeSetParams({launch.Shape.Kernel.Name})");
                launch.Changed = false;
            }
        }

        /// <summary>The longest argument list of any kernel: the size of the one kernelParams array that Build and Update fill for each node in turn.</summary>
        private static int MostArguments { get; } = Kernel.All.Max(k => k.Parameters.Length);

        private KernelNodeParams Parameters(RecordedLaunch launch, ulong* values, nint* pointers)
        {
            KernelArgument.Marshal(launch.Arguments, values, pointers);
            var s = launch.Shape;
            return new KernelNodeParams
            {
                Function = backend.Function(s.Kernel),
                GridX = s.GridX, GridY = s.GridY, GridZ = 1,
                BlockX = s.BlockX, BlockY = s.BlockY, BlockZ = 1,
                SharedMemoryBytes = s.SharedBytes,
                KernelParams = (void**)pointers,
            };
        }

        /// <summary>Destroys the graph and its instance; nothing throws (a failed destroy can only follow an error already thrown).</summary>
        private void Release()
        {
            if (_exec == 0 && _graph == 0)
                return;
            if (!backend._disposed && cuCtxSetCurrent(backend._context) == Success)
            {
                if (_exec != 0)
                    cuGraphExecDestroy(_exec);
                if (_graph != 0)
                    cuGraphDestroy(_graph);
            }
            _exec = _graph = 0;
        }

        public override void Dispose() => Release();
    }
}
