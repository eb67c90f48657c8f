# The main job on Windows (the same as run-benchmarks.sh): train each standard workload for a few steps on
# every available backend, with seeded parameters and a seeded synthetic batch.
# Usage: ./run-benchmarks.ps1 [-Out results/latest] [-Backends reference,cpu-simd]
param(
    [string]$Out = "results/latest",
    [string[]]$Backends = @()
)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
dotnet build -c Release suites/Cli -v quiet -nologo
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
function k { dotnet suites/Cli/bin/Release/net10.0/kernellab.dll @args; if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE } }
if ($Backends.Count -eq 0) {
    $Backends = k backends | Where-Object { ($_ -split '\s+')[1] -eq "available" } | ForEach-Object { ($_ -split '\s+')[0] }
}
New-Item -ItemType Directory -Force -Path $Out | Out-Null
k backends | Tee-Object -FilePath "$Out/backends.txt"
foreach ($w in @(@("mlp", 64, $null), @("cnn", 64, $null), @("lstm", 32, 32), @("transformer", 16, 64))) {
    $name, $batch, $seq = $w
    $config = "models/configs/$name.json"
    k init --config $config --seed 1 --out "$Out/$name.params.safetensors"
    $seqArgs = if ($seq) { @("--seq", $seq) } else { @() }
    k batch --config $config --batch $batch @seqArgs --seed 2 --out "$Out/$name.batch.safetensors"
    foreach ($backend in $Backends) {
        k train --config $config --params "$Out/$name.params.safetensors" --batch "$Out/$name.batch.safetensors" `
            --backend $backend --optimizer adamw --lr 0.001 --steps 5 --losses "$Out/$name.$backend.losses.json"
    }
}
