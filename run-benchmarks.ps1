# The main job on Windows (the same as run-benchmarks.sh): run a suite (default: the standard suite, on every
# backend it lists; those that cannot run here are recorded as unavailable with their reason), then its report.
# Usage: ./run-benchmarks.ps1 [-Suite suites/standard.json] [-Backends reference,cpu-simd] [-Out results/latest]
param(
    [string]$Suite = "suites/standard.json",
    [string[]]$Backends = @(),
    [string]$Out = "results/latest"
)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
dotnet build -c Release suites/Cli -v quiet -nologo
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
$kernellab = "suites/Cli/bin/Release/net10.0/kernellab.dll"
$backendArgs = if ($Backends.Count -gt 0) { @("--backends", ($Backends -join ",")) } else { @() }
dotnet $kernellab run $Suite @backendArgs --out $Out
$status = $LASTEXITCODE
# A failed run is recorded in results.json like the others: report what finished, then pass the failure on.
if (Test-Path (Join-Path $Out "results.json")) {
    dotnet $kernellab report $Out
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
exit $status
