#!/usr/bin/env bash
# The main job on Linux: run a suite (default: the standard suite, on every backend it lists; those that cannot
# run here are recorded as unavailable with their reason), then write its report.
# Usage: bash run-benchmarks.sh [SUITE (default suites/standard.json)] [BACKENDS (comma-separated, default: the suite's)] [OUT_DIR (default results/latest)]
# Writes OUT_DIR/results.json (after every run), OUT_DIR/ops-cpu-simd.json (every op at the suite's shapes, where the
# job runs cpu-simd) and OUT_DIR/report.md, report.html and the charts (NAME.svg and NAME.png). Without a SUITE, the
# job also runs suites/scaling.json (the standard mlp at batch 16 to 128) into OUT_DIR/scaling, for the scaling chart.
set -euo pipefail
cd "$(dirname "$0")"
suite=${1:-suites/standard.json}
backends=${2:-}
out=${3:-results/latest}
dotnet build -c Release suites/Cli -v quiet -nologo
k() { dotnet suites/Cli/bin/Release/net10.0/kernellab.dll "$@"; }
status=0
k run "$suite" ${backends:+--backends "$backends"} --out "$out" || status=$?
# A failed run is recorded in results.json like the others: go on, report what finished, then pass the failure on.
[[ -f "$out/results.json" ]] || exit "$status"
with=()
if [[ -z "${1:-}" ]]; then
  k run suites/scaling.json ${backends:+--backends "$backends"} --out "$out/scaling" || status=$?
  if [[ -f "$out/scaling/results.json" ]]; then with=(--with "$out/scaling"); fi
fi
# The roofline: every op at the suite's shapes on cpu-simd, against the host CPU's measured peaks (its table in a .txt beside it).
if [[ -z "$backends" || ",$backends," == *,cpu-simd,* ]]; then
  k ops --backend cpu-simd --shapes "$suite" --out "$out/ops-cpu-simd.json" > "$out/ops-cpu-simd.txt" || status=$?
  tail -n 1 "$out/ops-cpu-simd.txt"
fi
k report "$out" "${with[@]}"
exit "$status"
