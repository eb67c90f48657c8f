"""Run a KernelLab suite file on PyTorch and write a results.json that `kernellab report` and `compare` read.

The models are tools/torch_golden.py's (imported, not copied), trained as the suite says: its workloads,
batch and seq, its optimizer (AdamW with the suite's hyper-parameters), warmup_steps excluded, then steps until
both min_steps and min_seconds are reached. Each step is zero_grad, forward, cross-entropy, backward and the
optimizer step; on CUDA the step is timed with CUDA events, on the CPU by the wall clock.

Backends: `pytorch-cpu` (torch.set_num_threads(os.cpu_count()) unless --threads), and `pytorch-cuda` where
torch.cuda.is_available(). A workload with a "batch" list runs once per batch; one with a "threads" list runs
pytorch-cpu once per thread count (torch.set_num_threads), recorded as the run's "threads". The result file has
the fixed fields of shared/spec/SUITES.md. Correctness is not applicable to this outside baseline: its parameters
come from torch's own seeded init, not KernelLab's, so there is no same-parameter gradient to compare;
`correctness` is written as {"passed": null, "max_err": null, "reference": null, "note": ...}, and the report
shows "n/a". (PyTorch's agreement with KernelLab's reference
is what tests/fixtures/golden and tools/torch_golden.py check.)

Run (Debian's PyTorch, torch 1.13):  /usr/bin/python3 tools/torch_baseline.py suites/standard.json [--out DIR]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flop_count import batches, flop_per_step  # noqa: E402
from torch_golden import FAMILIES, OPTIMIZERS, loss_fn, make_batch  # noqa: E402

SCHEMA = "kernellab.results/1"


def quantile(values, q):
    """Linear interpolation between order statistics, as KernelLab's Statistics.Quantile."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


def machine():
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu in ("", platform.machine(), platform.processor()):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE" if "sse" in flags else "none"
    gpus = []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            for line in out.stdout.strip().splitlines():
                f = [x.strip() for x in line.split(",")]
                gpus.append({"name": f[0], "driver": f[1] if len(f) > 1 else None,
                             "memory_mib": float(f[2]) if len(f) > 2 else None})
    except (OSError, subprocess.TimeoutExpired):
        pass
    os_name = platform.platform()
    try:
        rel = dict(l.split("=", 1) for l in Path("/etc/os-release").read_text().splitlines() if "=" in l)
        os_name = rel.get("PRETTY_NAME", os_name).strip('"')
    except OSError:
        pass
    return {"os": os_name, "cpu": cpu, "cores": os.cpu_count(), "simd": simd, "gpus": gpus,
            "dotnet": "none (PyTorch baseline)", "opencl_devices": [], "torch": torch.__version__,
            "python": platform.python_version()}


def make_optimizer(spec, params):
    spec = dict(spec)
    name = spec.pop("name")
    if "betas" in spec:
        spec["betas"] = tuple(spec["betas"])
    return OPTIMIZERS[name](params, **spec)


def run_one(suite, w, B, device, seed):
    c, T = w["model"], w.get("seq")
    torch.manual_seed(seed)
    model = FAMILIES[c["family"]](c).to(device)
    x, y = make_batch(c, B, T)
    x, y = x.to(device), y.to(device)
    opt = make_optimizer(suite["optimizer"], model.parameters())
    cuda = device.type == "cuda"

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model, x, y).backward()
        opt.step()

    for _ in range(suite["warmup_steps"]):
        step()
    if cuda:
        torch.cuda.synchronize()
    samples, start = [], time.perf_counter()
    max_steps = suite.get("max_steps", 10000)
    while (len(samples) < suite["min_steps"] or time.perf_counter() - start < suite["min_seconds"]) and len(samples) < max_steps:
        if cuda:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            step()
            end.record()
            end.synchronize()
            samples.append(begin.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            step()
            samples.append((time.perf_counter() - t0) * 1e3)
    median = quantile(samples, 0.5)
    flop = flop_per_step(c, B, T)
    t = {"step_ms_median": median, "step_ms_min": min(samples), "step_ms_max": max(samples), "steps": len(samples),
         "samples_per_second": B / (median / 1e3), "gflops": flop / (median / 1e3) / 1e9,
         "step_ms_p10": quantile(samples, 0.1), "step_ms_p90": quantile(samples, 0.9), "flop_per_step": flop,
         "warmup_steps": suite["warmup_steps"], "samples_ms": samples}
    if T:
        t["tokens_per_second"] = B * T / (median / 1e3)
    return t


def thread_counts(w):
    """The thread counts a workload's "threads" gives pytorch-cpu (one value or a list), or [None]: --threads."""
    t = w.get("threads")
    return [None] if t is None else t if isinstance(t, list) else [t]


def write_atomic(path, doc):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", help="suite file, e.g. suites/standard.json")
    ap.add_argument("--out", help="output folder (default: results/pytorch-<suite name>)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: every core)")
    ap.add_argument("--devices", default="cpu,cuda", help="cpu, cuda or both (cuda only where available)")
    args = ap.parse_args()

    suite = json.loads(Path(args.suite).read_text())
    out = Path(args.out or f"results/pytorch-{suite['name']}")
    out.mkdir(parents=True, exist_ok=True)
    devices = [d for d in args.devices.split(",") if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]
    seed = suite.get("seed", 1)
    doc = {"schema": SCHEMA, "suite": suite["name"],
           "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "machine": machine(),
           "settings": {k: suite[k] for k in ("warmup_steps", "min_steps", "min_seconds") if k in suite}
           | {"optimizer": suite["optimizer"], "seed": seed, "suite_file": args.suite, "threads": args.threads},
           "runs": []}
    note = ("outside baseline: torch initialises its own parameters, so no same-parameter comparison with the "
            "reference applies; PyTorch against the reference is checked by tests/fixtures/golden")
    print(f"{'workload':<14}{'backend':<14}{'median ms':>12}{'p10':>10}{'p90':>10}{'steps':>7}{'GFLOP/s':>10}")
    # One run per batch of a workload's list, per device and, on the CPU, per thread count of its list.
    plan = [(w, B, dev, threads) for w in suite["workloads"] for B in batches(w) for dev in devices
            for threads in (thread_counts(w) if dev == "cpu" else [None])]
    for w, B, dev, threads in plan:
        torch.set_num_threads(threads or args.threads)
        run = {"workload": w["name"], "backend": f"pytorch-{dev}", "status": "ok", "family": w["model"]["family"],
               "batch": B, "device": torch.cuda.get_device_name(0) if dev == "cuda" else f"{doc['machine']['cpu']} ({threads or args.threads} threads)",
               "device_kind": "gpu" if dev == "cuda" else "cpu", "precision": "Float32",
               "correctness": {"passed": None, "max_err": None, "reference": None, "note": note}}
        if w.get("seq"):
            run["seq"] = w["seq"]
        if threads:
            run["threads"] = threads
        label = w["name"] + (f" batch={B}" if isinstance(w["batch"], list) else "") + (f" threads={threads}" if threads else "")
        try:
            run["throughput"] = run_one(suite, w, B, torch.device(dev), seed)
            t = run["throughput"]
            print(f"{label:<14}{run['backend']:<14}{t['step_ms_median']:>12.3f}{t['step_ms_p10']:>10.3f}"
                  f"{t['step_ms_p90']:>10.3f}{t['steps']:>7}{t['gflops']:>10.2f}", flush=True)
        except (RuntimeError, ValueError) as e:
            run.update(status="failed", error=str(e).splitlines()[0])
            print(f"{label:<14}{run['backend']:<14}  failed: {run['error']}", flush=True)
        doc["runs"].append(run)
        doc["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_atomic(out / "results.json", doc)
    print(f"wrote {out / 'results.json'}")



if __name__ == "__main__":
    main()
