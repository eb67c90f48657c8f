#!/usr/bin/env bash
# The main job on Linux: run a suite (default: the standard suite, on every backend it lists; those that cannot
# run here are recorded as unavailable with their reason), then write its report.
# Usage: bash run-benchmarks.sh [SUITE (default suites/standard.json)] [BACKENDS (comma-separated, default: the suite's)] [OUT_DIR (default results/latest)]
# Writes OUT_DIR/results.json (after every run) and OUT_DIR/report.md, report.html and the charts (*.svg).
set -euo pipefail
cd "$(dirname "$0")"
suite=${1:-suites/standard.json}
backends=${2:-}
out=${3:-results/latest}
dotnet build -c Release suites/Cli -v quiet -nologo
k() { dotnet suites/Cli/bin/Release/net10.0/kernellab.dll "$@"; }
status=0
k run "$suite" ${backends:+--backends "$backends"} --out "$out" || status=$?
# A failed run is recorded in results.json like the others: report what finished, then pass the failure on.
if [[ -f "$out/results.json" ]]; then k report "$out"; fi
exit "$status"
