using BenchmarkDotNet.Running;

// dotnet run -c Release --project suites/Benchmarks -- --filter '*'      (every benchmark)
// dotnet run -c Release --project suites/Benchmarks -- --filter '*Sgemm*' (one class; see README "Benchmarks")
// BenchmarkDotNet refuses to report numbers from a Debug build (its optimisation validator is left on).
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
