"""A backend's training steps (and SGEMM) against PyTorch 2.x on this CPU, back to back in rounds: the ratio per round.

These machines' speed drifts by up to 2x over minutes, so absolute times from different minutes do not compare; each
round runs `kernellab run SUITE` on one backend and the PyTorch 2.10 tool (../shared/tools/pytorch2-cpu: libtorch with
MKL and oneDNN) on the same suite, and the ratio is taken within the round. The two take turns at going first, so that
a drift within a round weighs on each side alike. With --sgemm a round also times the 1024^3 SGEMM both ways:
`kernellab ops` on a one-GEMM suite (an mlp whose first layer is x[1024, 1024] W^T), and torch.mm.

Run from a Release build (dotnet build -c Release):
    python3 tools/versus_pytorch2.py [--suite suites/standard.json] [--rounds 3] [--threads 2] [--backend cpu-simd] [--sgemm]
        [--pytorch2 ../shared/tools/pytorch2-cpu] [--out FILE.json]
Prints one line per round and workload (ms per step both ways, and how many times faster the backend is), then the
range of the ratio over the rounds; --out writes the same as JSON.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNELLAB = ROOT / "suites/Cli/bin/Release/net10.0/kernellab.dll"
SGEMM_N = 1024
# The one-GEMM suite: the mlp's first forward GEMM is x [1024, 1024] times W^T [1024, 1024].
SGEMM_SUITE = {
    "name": "sgemm1024", "backends": ["cpu-simd"], "optimizer": {"name": "sgd", "lr": 0.01},
    "warmup_steps": 1, "min_steps": 3, "min_seconds": 0.01,
    "workloads": [{"name": "sgemm", "model": {"family": "mlp", "sizes": [SGEMM_N, SGEMM_N, 16]}, "batch": SGEMM_N}],
}
SGEMM_CASE = f"m={SGEMM_N} n={SGEMM_N} k={SGEMM_N} transposeA=False transposeB=True accumulate=False"


def fail(message):
    print(f"versus_pytorch2: {message}", file=sys.stderr)
    sys.exit(1)


def run(command, env=None):
    """Runs a command, its progress going to stderr; returns stdout, or stops with the command's own last lines."""
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        fail(f"{' '.join(map(str, command))} exited {done.returncode}: {done.stderr.strip().splitlines()[-1:] or done.stdout.strip()[-200:]}")
    return done.stdout


def kernellab_steps(suite, backend, threads, out):
    env = dict(os.environ, KERNELLAB_THREADS=str(threads))
    run(["dotnet", KERNELLAB, "run", suite, "--backends", backend, "--out", out], env)
    runs = json.loads((Path(out) / "results.json").read_text())["runs"]
    steps = {}
    for r in runs:
        if r["status"] != "ok":
            fail(f"kernellab run: {r['workload']} on {backend} is {r['status']}: {r.get('error') or r.get('reason')}")
        steps[r["workload"]] = r["throughput"]["step_ms_median"]
    return steps


def kernellab_sgemm_gflops(backend, threads, work):
    suite, ops = Path(work) / "sgemm1024.json", Path(work) / "ops-sgemm.json"
    suite.write_text(json.dumps(SGEMM_SUITE))
    run(["dotnet", KERNELLAB, "ops", "--backend", backend, "--shapes", suite, "--out", ops], dict(os.environ, KERNELLAB_THREADS=str(threads)))
    case = next((o for o in json.loads(ops.read_text())["ops"] if o["op"] == "gemm" and o["shape"] == SGEMM_CASE), None)
    if case is None or not case.get("median_ms"):
        fail(f"kernellab ops: no timed case '{SGEMM_CASE}' in {ops}")
    return 2.0 * SGEMM_N ** 3 / case["median_ms"] / 1e6


def pytorch2(tool, args):
    return json.loads(run(["bash", Path(tool) / "run.sh", *map(str, args)]))


def in_turn(ours_first, ours, theirs):
    """Runs both measurements, ours first or theirs first; returns (ours, theirs)."""
    if ours_first:
        mine = ours()
        return mine, theirs()
    other = theirs()
    return ours(), other


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default=str(ROOT / "suites/standard.json"))
    ap.add_argument("--backend", default="cpu-simd")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sgemm", action="store_true", help=f"also time the {SGEMM_N}^3 SGEMM each round")
    ap.add_argument("--pytorch2", default=str(ROOT.parent / "shared/tools/pytorch2-cpu"), help="the PyTorch 2.x timing tool's folder")
    ap.add_argument("--out", help="JSON file for every round's figures and the ratios' range")
    args = ap.parse_args()
    if not KERNELLAB.is_file():
        fail(f"{KERNELLAB} is missing: build first (dotnet build -c Release)")
    if not (Path(args.pytorch2) / "run.sh").is_file():
        fail(f"{args.pytorch2}/run.sh is missing: --pytorch2 names the folder of the PyTorch 2.x tool")
    if args.rounds < 1 or args.threads < 1:
        fail("--rounds and --threads take a whole number, at least 1")

    rounds = []
    with tempfile.TemporaryDirectory() as work:
        for i in range(1, args.rounds + 1):
            ours_first = i % 2 == 1
            ours, theirs = in_turn(ours_first, lambda: kernellab_steps(args.suite, args.backend, args.threads, str(Path(work) / f"round{i}")),
                                   lambda: pytorch2(args.pytorch2, [args.suite, "--threads", args.threads])["models"])
            row = {"round": i, "first": args.backend if ours_first else "pytorch2", "workloads": {w: {"kernellab_ms": ms, "pytorch_ms": theirs[w]["step_ms"], "speedup": theirs[w]["step_ms"] / ms}
                                             for w, ms in ours.items() if w in theirs}}
            if args.sgemm:
                ours_gflops, theirs_gflops = in_turn(ours_first, lambda: kernellab_sgemm_gflops(args.backend, args.threads, work),
                                                     lambda: pytorch2(args.pytorch2, ["--sgemm", "--threads", args.threads])["sgemm"][str(SGEMM_N)]["gflops"])
                row["sgemm"] = {"kernellab_gflops": ours_gflops, "pytorch_gflops": theirs_gflops, "ratio": ours_gflops / theirs_gflops}
            rounds.append(row)
            for w, f in row["workloads"].items():
                print(f"round {i}  {w:<12} {args.backend} {f['kernellab_ms']:8.3f} ms   PyTorch 2 {f['pytorch_ms']:8.3f} ms   {f['speedup']:.2f}x faster", flush=True)
            if "sgemm" in row:
                s = row["sgemm"]
                print(f"round {i}  sgemm {SGEMM_N}^3   {args.backend} {s['kernellab_gflops']:6.1f} GFLOP/s   torch.mm {s['pytorch_gflops']:6.1f} GFLOP/s   {s['ratio']:.2f} of it", flush=True)

    summary = {}
    for w in rounds[0]["workloads"]:
        ratios = [r["workloads"][w]["speedup"] for r in rounds]
        summary[w] = {"speedup_min": min(ratios), "speedup_median": statistics.median(ratios), "speedup_max": max(ratios)}
        print(f"{w:<12} {args.backend} is {min(ratios):.2f}-{max(ratios):.2f}x as fast as PyTorch 2 (median {statistics.median(ratios):.2f}, {len(ratios)} round(s))")
    if args.sgemm:
        ratios = [r["sgemm"]["ratio"] for r in rounds]
        summary["sgemm"] = {"ratio_min": min(ratios), "ratio_median": statistics.median(ratios), "ratio_max": max(ratios)}
        print(f"sgemm {SGEMM_N}^3   {args.backend} at {min(ratios):.2f}-{max(ratios):.2f} of torch.mm (median {statistics.median(ratios):.2f})")
    if args.out:
        Path(args.out).write_text(json.dumps({"suite": args.suite, "backend": args.backend, "threads": args.threads,
                                              "rounds": rounds, "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
