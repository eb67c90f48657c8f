"""OpenBLAS's SGEMM through PyTorch, at the square sizes of the SGEMM benchmark (suites/Benchmarks): the CPU speed to beat.

Prints the median milliseconds and GFLOP/s (2 n^3 per product) of torch.mm on float32 n x n matrices, after a warm-up,
over at least 20 products and 1 s per size. Compare with `dotnet run -c Release --project suites/Benchmarks -- --filter '*Sgemm*'`
run on the same machine at the same load. OPENBLAS_CORETYPE, unless set, is set to the best core this CPU supports
(tools/blas_probe.py: OpenBLAS 0.3.21 runs a generic kernel on CPUs newer than itself); the BLAS line names the core run.

Run (Debian's PyTorch with libopenblas0-pthread):  /usr/bin/python3 tools/torch_sgemm.py [--threads N]
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blas_probe  # noqa: E402

CORETYPE_WHY = blas_probe.choose_openblas_coretype()  # before torch is imported: OpenBLAS reads OPENBLAS_CORETYPE as it loads
import torch  # noqa: E402


def median_ms(fn, min_steps=20, min_seconds=1.0):
    for _ in range(3):
        fn()
    samples, start = [], time.perf_counter()
    while len(samples) < min_steps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: every core)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, BLAS: {blas_probe.blas(CORETYPE_WHY)['blas']}")
    for n in (64, 128, 256, 512, 1024):
        a, b, c = torch.rand(n, n), torch.rand(n, n), torch.empty(n, n)
        ms = median_ms(lambda: torch.mm(a, b, out=c))
        print(f"sgemm {n:>5}: {ms:9.3f} ms  {2 * n ** 3 / ms / 1e6:7.1f} GFLOP/s")


if __name__ == "__main__":
    main()
