# The main job on Windows (the same as run-benchmarks.sh): run a suite (default: the standard suite, on every
# backend it lists; those that cannot run here are recorded as unavailable with their reason), then its report.
# Usage: ./run-benchmarks.ps1 [-Suite suites/standard.json] [-Backends reference,cpu-simd] [-Out results/latest]
# Without -Suite, the job also runs suites/scaling.json into OUT/scaling for the scaling chart; where it runs cpu-simd,
# kernellab ops at the suite's shapes (OUT/ops-cpu-simd.json) for the roofline.
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
# A failed run is recorded in results.json like the others: go on, report what finished, then pass the failure on.
if (-not (Test-Path (Join-Path $Out "results.json"))) { exit $status }
$with = @()
if (-not $PSBoundParameters.ContainsKey("Suite")) {
    $scaling = Join-Path $Out "scaling"
    dotnet $kernellab run suites/scaling.json @backendArgs --out $scaling
    if ($status -eq 0) { $status = $LASTEXITCODE }
    if (Test-Path (Join-Path $scaling "results.json")) { $with = @("--with", $scaling) }
}
if ($Backends.Count -eq 0 -or (($Backends -join ",") -split ",") -contains "cpu-simd") {
    $table = Join-Path $Out "ops-cpu-simd.txt"
    dotnet $kernellab ops --backend cpu-simd --shapes $Suite --out (Join-Path $Out "ops-cpu-simd.json") > $table
    if ($status -eq 0) { $status = $LASTEXITCODE }
    Get-Content $table -Tail 1
}
dotnet $kernellab report $Out @with
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
exit $status
