#!/usr/bin/env bash
# Builds the CUDA emulator (emulator.cpp) as DIR/libcuda.so.1, with every kernel of kernels/cuda compiled into it by g++.
# Use: bash tests/cuda-emulator/build.sh DIR, then run anything with LD_LIBRARY_PATH=DIR to put the cuda backend on it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$here/../../kernels/cuda"
out="${1:?usage: build.sh OUTPUT_DIRECTORY}"
[ "$(uname -m)" = x86_64 ] || { echo "the CUDA emulator switches fibers in x86-64 assembly; this machine is $(uname -m)" >&2; exit 1; }
mkdir -p "$out"
objects="$(mktemp -d)"
trap 'rm -rf "$objects"' EXIT
flags=(-std=c++20 -O2 -g -fPIC -fvisibility=hidden -Wall -Wextra -Werror -Wno-unused-parameter -I "$here")
# NVRTC compiles with --fmad=true: a*b + c becomes one FMA that keeps the product unrounded. The kernels are compiled here
# the same way, with FMA instructions and contraction across expressions, so a kernel that needs the rounded product
# (and must say so, with __fmul_rn) fails on this CPU as it would on a GPU.
grep -qw fma /proc/cpuinfo || { echo "this CPU has no FMA instructions: the emulator could not contract a*b+c as a GPU does" >&2; exit 1; }
# NVRTC's #pragma unroll means nothing to g++.
kernel_flags=(-mfma -ffp-contract=fast -Wno-unknown-pragmas)

# Each source is one translation unit: the source as it is, then a registration line for every extern "C" __global__
# kernel and storage for every extern __shared__ array it declares. faults.cu holds the emulator's own test kernels.
for source in "$kernels"/*.cu "$here/faults.cu"; do
  name="$(basename "$source" .cu)"
  {
    echo "#include \"$source\""
    grep -oP 'extern "C" __global__ void (__launch_bounds__\([^)]*\) )?\K\w+' "$source" | sed 's/.*/EMU_KERNEL(&)/'
    grep -oP 'extern __shared__ \K\w+ \w+(?=\[\])' "$source" | sed -E 's/(\w+) (\w+)/EMU_DYNAMIC_SHARED(\1, \2)/' || true
  } | g++ "${flags[@]}" "${kernel_flags[@]}" -include cuda_device.h -x c++ - -c -o "$objects/$name.o"
done
g++ "${flags[@]}" -c "$here/emulator.cpp" -o "$objects/emulator.o"
g++ -shared -Wl,-soname,libcuda.so.1 -Wl,-Bsymbolic -o "$out/libcuda.so.1" "$objects"/*.o
echo "$out/libcuda.so.1"
