#!/usr/bin/env bash
# Publishes a self-contained linux-x64 build of the kernellab CLI and of the test runner (an xunit.v3 test project is an
# executable) for a GPU machine that has the NVIDIA driver but no .NET SDK, packed as one tar.gz under 64 MiB.
#
#   bash tools/publish-gpu.sh [OUT_DIR]        # default artifacts/gpu; needs the .NET SDK, NuGet and NVRTC here
#
# The build carries the PTX of every kernel for compute_70/80/90 (written here by 'kernellab kernels ptx'), so the GPU
# machine needs no NVRTC; where it has one (libnvrtc.so.13/.12/.11.2), the kernels are compiled there for the device.
#
# On the GPU machine:
#   tar -xzf kernellab-gpu-linux-x64.tar.gz && cd kernellab
#   ./kernellab backends                                  # cuda and ilgpu (device cuda:0): available, with the device
#   for c in mlp_a cnn_a lstm_a transformer_a; do         # the PyTorch golden cases, on cuda, ilgpu and the reference
#     for b in cuda ilgpu reference; do
#       ./kernellab grad --config fixtures/golden/$c.config.json --params fixtures/golden/$c.params.safetensors \
#         --batch fixtures/golden/$c.batch.safetensors --backend $b --out /tmp/$c.$b.safetensors
#     done
#   done
#   # Every op and every family against the reference (the cuda rows, and the ilgpu rows on ILGPU's Cuda accelerator,
#   # its default device there; rows of backends unavailable there are skipped):
#   ./KernelLab.Tests -class KernelLab.Tests.OpConformanceTests -class KernelLab.Tests.FamilyConformanceTests \
#     -class 'KernelLab.Tests.Cuda*' -class KernelLab.Tests.IlgpuBackendTests
#   ./kernellab run suites/standard.json --backends reference,cuda,ilgpu --out results/gpu   # step times on the GPU
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

out=${1:-artifacts/gpu}
stage="$out/kernellab"
tarball="$out/kernellab-gpu-linux-x64.tar.gz"
limit=$((64 * 1024 * 1024))

rm -rf "$stage" "$tarball"
mkdir -p "$stage"
publish=(-c Release -r linux-x64 --self-contained -p:DebugType=none -o "$stage" --nologo -v quiet)
dotnet publish suites/Cli/KernelLab.Cli.csproj "${publish[@]}"
dotnet publish tests/KernelLab.Tests/KernelLab.Tests.csproj "${publish[@]}"
# Microsoft.NET.Test.Sdk's code-coverage tools (Windows binaries, not in the deps.json): the in-process runner never loads them.
rm -rf "$stage/CodeCoverage"

"$stage/kernellab" kernels check --backend cuda >/dev/null
"$stage/kernellab" kernels ptx --out "$stage/ptx"

tar -C "$out" -cf - kernellab | gzip -9 > "$tarball"
size=$(stat -c %s "$tarball")
echo "$tarball: $((size / 1024 / 1024)) MiB ($size bytes)"
if [ "$size" -ge "$limit" ]; then
  echo "error: $tarball is over 64 MiB" >&2
  exit 1
fi
