#!/usr/bin/env bash
# The main job on Linux: train each standard workload (models/configs, MODELS.md batch sizes) for a few
# steps on every available backend, with seeded parameters and a seeded synthetic batch.
# Usage: bash run-benchmarks.sh [OUT_DIR] [BACKENDS (comma-separated, default: every available one)]
# The suite runner and reports (`kernellab run` / `report`) will replace this loop.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-results/latest}
dotnet build -c Release suites/Cli -v quiet -nologo
k() { dotnet suites/Cli/bin/Release/net10.0/kernellab.dll "$@"; }
backends=${2:-$(k backends | awk '$2 == "available" { print $1 }' | paste -sd, -)}
mkdir -p "$out"
k backends | tee "$out/backends.txt"
for workload in mlp:64 cnn:64 lstm:32:32 transformer:16:64; do
  IFS=: read -r name batch seq <<< "$workload"
  config=models/configs/$name.json
  k init --config "$config" --seed 1 --out "$out/$name.params.safetensors"
  k batch --config "$config" --batch "$batch" ${seq:+--seq "$seq"} --seed 2 --out "$out/$name.batch.safetensors"
  for backend in ${backends//,/ }; do
    k train --config "$config" --params "$out/$name.params.safetensors" --batch "$out/$name.batch.safetensors" \
      --backend "$backend" --optimizer adamw --lr 0.001 --steps 5 --losses "$out/$name.$backend.losses.json"
  done
done
