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

A workload with "data" and "target" (SUITES.md, "Training to a target on real data") is trained instead, once per
seed of its "seeds" (default [the suite's seed]): torch.manual_seed(seed) and PyTorch's default init, then the clock
starts at the first touch of the data (reading the files counts) and stops when the target is first reached. The
batches are tools/training_data.py's, models/Data/README.md's recipe, so the examples and their order are KernelLab's.
Image data is evaluated after every epoch (validation loss, and the test accuracy that an "accuracy" target is
checked on), text every "eval_every" steps (validation loss in nats per token, which a "loss" target is checked on:
reached at loss <= value). Training stops at the target, at early stopping (the validation loss not below its best for
"patience" evaluations in a row) or after "max_epochs". The run's "training" holds the metric, the target, per seed
its time to target (null when not reached), epochs (started), steps, final metric and curves, and a summary whose
time_to_target_s_mean drops the fastest and the slowest seed when there are 3 or more (null unless every seed
reached the target).

OpenBLAS 0.3.21 runs a generic kernel, 6x slower, on CPUs newer than itself: unless OPENBLAS_CORETYPE is set, it is
set to the best core this CPU supports before torch loads OpenBLAS (tools/blas_probe.py), with one line saying which
and why. The machine's "blas" names the BLAS torch runs on, "openblas_core" the core OpenBLAS runs,
"openblas_coretype" and "openblas_coretype_why" what OPENBLAS_CORETYPE was and who chose it.

Run (Debian's PyTorch, torch 1.13):
  /usr/bin/python3 tools/torch_baseline.py suites/standard.json [--out DIR] [--workloads a,b]
"""
import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blas_probe  # noqa: E402

CORETYPE_WHY = blas_probe.choose_openblas_coretype()  # before torch is imported: OpenBLAS reads OPENBLAS_CORETYPE as it loads
import torch  # noqa: E402
from flop_count import batches, flop_per_step  # noqa: E402
from torch_golden import OPTIMIZERS, loss_fn, make_batch, make_scheduler  # noqa: E402
from training_data import DataError, augment_batch, epoch_order, evaluate, golden_model, load_data  # noqa: E402

SCHEMA = "kernellab.results/1"


def quantile(values, q):
    """Linear interpolation between order statistics, as KernelLab's Statistics.Quantile."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


def machine():
    cpu = blas_probe.cpu()
    flags = cpu.flags
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
    return {"os": os_name, "cpu": cpu.model, "cores": os.cpu_count(), "simd": simd, "gpus": gpus,
            "dotnet": "none (PyTorch baseline)", "opencl_devices": [], "torch": torch.__version__,
            "python": platform.python_version()} | blas_probe.blas(CORETYPE_WHY)


TRAINING_STEP_FIELDS = ("schedule", "l1", "clip_grad_norm")  # a suite optimizer's fields that are not torch.optim's


def make_optimizer(spec, params):
    """torch.optim's optimizer for a suite's "optimizer" (its schedule, l1 and clip_grad_norm are training_step's)."""
    spec = {k: v for k, v in spec.items() if k not in TRAINING_STEP_FIELDS}
    name = spec.pop("name")
    if "betas" in spec:
        spec["betas"] = tuple(spec["betas"])
    return OPTIMIZERS[name](params, **spec)


def training_step(model, opt, spec, x, y):
    """One step as KernelLab's Optimizer.Step: the loss plus the L1 term over the weights of two or more dimensions,
    backward, clip_grad_norm_ over every gradient, the update. Returns the loss (L1 term included), not read back."""
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model, x, y)
    if spec.get("l1"):
        loss = loss + spec["l1"] * sum(p.abs().sum() for p in model.parameters() if p.dim() >= 2)
    loss.backward()
    if "clip_grad_norm" in spec:
        torch.nn.utils.clip_grad_norm_(model.parameters(), spec["clip_grad_norm"])
    opt.step()
    return loss.detach()


def run_one(suite, w, B, device, seed):
    c, T = w["model"], w.get("seq")
    torch.manual_seed(seed)
    model = golden_model(c).to(device)
    x, y = make_batch(c, B, T)
    x, y = x.to(device), y.to(device)
    opt = make_optimizer(suite["optimizer"], model.parameters())
    cuda = device.type == "cuda"

    def step():
        training_step(model, opt, suite["optimizer"], x, y)

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


def check_target(w):
    """The target of a training workload, its fields checked before anything is timed (a ValueError otherwise)."""
    t = w["target"]
    if t.get("metric") not in ("accuracy", "loss"):
        raise ValueError(f"target metric {t.get('metric')!r} is not accuracy or loss")
    if t["metric"] == "accuracy" and w["data"].get("dataset") == "text":
        raise ValueError("an accuracy target needs image data (text data's metric is loss)")
    if "max_epochs" not in t:
        raise ValueError("the target needs max_epochs")
    for key, least in (("max_epochs", 1), ("eval_every", 1)):
        if key in t and not (isinstance(t[key], int) and t[key] >= least):
            raise ValueError(f"target {key} must be an integer >= {least}, not {t[key]!r}")
    patience = t.get("early_stopping", {}).get("patience")
    if patience is not None and not (isinstance(patience, int) and patience >= 1):
        raise ValueError(f"early_stopping patience must be an integer >= 1, not {patience!r}")
    if not isinstance(t.get("value"), (int, float)):
        raise ValueError(f"target value must be a number, not {t.get('value')!r}")
    return t


def reached(metric, value, target):
    """Whether an evaluation reached the target: accuracy at or above it, loss at or below it."""
    return value >= target if metric == "accuracy" else value <= target


def new_curve():
    """An empty curve of the result file: {"steps": [...], "values": [...]}."""
    return {"steps": [], "values": []}


def add_point(curve, step, value):
    """The curve's value at an optimizer step."""
    curve["steps"].append(step)
    curve["values"].append(value)


def train_seed(suite, w, B, device, seed, target):
    """Train workload `w` from torch.manual_seed(seed) until the target, early stopping or max_epochs: one seed's record.

    The clock runs from the first touch of the data (load_data reads the files) to the evaluation that first reaches
    the target. Each optimizer step takes the next batch of the epoch's order (epoch_order, last partial batch
    dropped). Images are evaluated after every epoch, text every eval_every steps (an epoch is floor(windows / B)
    steps); the training loss curve has a point every max(1, batches_per_epoch // 50) steps, the mean since the last.
    """
    metric, patience = target["metric"], target.get("early_stopping", {}).get("patience")
    torch.manual_seed(seed)
    model = golden_model(w["model"]).to(device)
    opt = make_optimizer(suite["optimizer"], model.parameters())
    schedule = suite["optimizer"].get("schedule")
    scheduler = make_scheduler(opt, schedule) if schedule else None
    plateau = schedule is not None and schedule["name"] == "plateau"  # stepped per evaluation, the others per step
    augment = w["data"].get("augment")

    start = time.perf_counter()
    data = load_data(w).to(device)
    n = len(data.train)
    per_epoch = n // B
    if per_epoch == 0:
        raise DataError(f"{n} training examples hold no batch of {B}")
    eval_every = per_epoch if data.images else target.get("eval_every", per_epoch)
    log_every = max(1, per_epoch // 50)
    curves = {"training_loss": new_curve(), "validation": new_curve(), "validation_loss": new_curve()}
    pending, since = torch.zeros((), dtype=torch.float64, device=device), 0
    steps = epochs = stale = 0
    best, final, time_to_target, stopped = math.inf, None, None, "max_epochs"

    def evaluate_now():
        """Evaluates, records the curves, and says why training stops here (None to go on)."""
        nonlocal best, final, time_to_target, stale
        validation_loss, _ = evaluate(model, data.validation, B, data.images)
        final = evaluate(model, data.test, B, True)[1] if metric == "accuracy" else validation_loss
        add_point(curves["validation"], steps, final)
        add_point(curves["validation_loss"], steps, validation_loss)
        print(f"    seed {seed} epoch {epochs} step {steps}: validation loss {validation_loss:.4f}"
              + (f", test accuracy {final:.4f}" if metric == "accuracy" else ""), flush=True)
        stale = 0 if validation_loss < best else stale + 1
        best = min(best, validation_loss)
        if plateau:
            scheduler.step(validation_loss)
        model.train()
        if reached(metric, final, target["value"]):
            time_to_target = time.perf_counter() - start
            return "target"
        return "early_stopping" if patience and stale >= patience else None

    model.train()
    while epochs < target["max_epochs"] and stopped == "max_epochs":
        order = torch.tensor(epoch_order(seed, epochs, n), device=device)
        epochs += 1
        for k in range(per_epoch):
            idx = order[k * B:(k + 1) * B]
            x = data.train.x[idx]
            if augment:
                x = augment_batch(x, augment, seed, epochs - 1, k)
            loss = training_step(model, opt, suite["optimizer"], x, data.train.y[idx])
            if scheduler and not plateau:
                scheduler.step()
            steps += 1
            pending += loss
            since += 1
            if steps % log_every == 0:
                add_point(curves["training_loss"], steps, (pending / since).item())
                pending.zero_()
                since = 0
            if steps % eval_every == 0:
                stopped = evaluate_now() or stopped
                if stopped != "max_epochs":
                    break
    # As KernelLab's runner: the last losses are a point of the curve, and text that ends between evaluations is evaluated once more.
    if since:
        add_point(curves["training_loss"], steps, (pending / since).item())
    if stopped == "max_epochs" and steps % eval_every:
        stopped = evaluate_now() or stopped
    return {"seed": seed, "time_to_target_s": time_to_target, "epochs": epochs, "steps": steps,
            "final_metric": final, "stopped": stopped, "seconds": time.perf_counter() - start, "curves": curves}


def summarize(seeds):
    """How many seeds reached the target, and the mean time to it over the seeds without the fastest and the slowest
    (all of them when fewer than 3): null unless every seed reached it."""
    times = [s["time_to_target_s"] for s in seeds]
    done = [t for t in times if t is not None]
    mean = None
    if seeds and len(done) == len(times):
        kept = sorted(done)[1:-1] if len(done) >= 3 else done
        mean = sum(kept) / len(kept)
    return {"seeds": len(seeds), "reached": len(done), "time_to_target_s_mean": mean}


def train_one(suite, w, B, device):
    """A training workload's "training" record: every seed of its "seeds" (default [1], as KernelLab's) in turn."""
    target = check_target(w)
    seeds = [train_seed(suite, w, B, device, seed, target) for seed in w.get("seeds", [1])]
    return {"metric": target["metric"], "target": target["value"], "seeds": seeds, "summary": summarize(seeds)}


def is_training(w):
    """A workload with "data" and "target" is trained to the target, not timed per step."""
    return "data" in w and "target" in w


def thread_counts(w):
    """The thread counts a workload's "threads" gives pytorch-cpu (one value or a list), or [None]: --threads."""
    t = w.get("threads")
    return [None] if t is None else t if isinstance(t, list) else [t]


def write_atomic(path, doc):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def selected_workloads(suite, names, ap):
    """The suite's workloads, or only those `names` (comma-separated) lists; a name the suite lacks is a usage error."""
    if not names:
        return suite["workloads"]
    wanted = [n for n in names.split(",") if n]
    unknown = [n for n in wanted if n not in {w["name"] for w in suite["workloads"]}]
    if unknown:
        ap.error(f"no workload named {', '.join(unknown)} in the suite")
    return [w for w in suite["workloads"] if w["name"] in wanted]


def print_training(label, run):
    """One line per seed of a training run, and its summary."""
    t = run["training"]
    for s in t["seeds"]:
        when = f"{s['time_to_target_s']:.2f} s to target" if s["time_to_target_s"] is not None else "target not reached"
        final = "none" if s["final_metric"] is None else f"{s['final_metric']:.4f}"
        print(f"{label:<22}{run['backend']:<14}seed {s['seed']}: {t['metric']} {final} ({when}; {s['epochs']} epochs, "
              f"{s['steps']} steps, {s['seconds']:.2f} s, stopped by {s['stopped']})", flush=True)
    m = t["summary"]["time_to_target_s_mean"]
    print(f"{label:<22}{run['backend']:<14}{t['summary']['reached']}/{t['summary']['seeds']} seeds reached "
          f"{t['metric']} {t['target']}" + (f", mean {m:.2f} s" if m is not None else ""), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", help="suite file, e.g. suites/standard.json")
    ap.add_argument("--out", help="output folder (default: results/pytorch-<suite name>)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: every core)")
    ap.add_argument("--devices", default="cpu,cuda", help="cpu, cuda or both (cuda only where available)")
    ap.add_argument("--workloads", help="only these workloads of the suite, by name: a,b")
    args = ap.parse_args()

    suite = json.loads(Path(args.suite).read_text())
    workloads = selected_workloads(suite, args.workloads, ap)
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
    if not all(map(is_training, workloads)):
        print(f"{'workload':<22}{'backend':<14}{'median ms':>12}{'p10':>10}{'p90':>10}{'steps':>7}{'GFLOP/s':>10}")
    # One run per batch of a workload's list, per device and, on the CPU, per thread count of its list.
    plan = [(w, B, dev, threads) for w in workloads for B in batches(w) for dev in devices
            for threads in (thread_counts(w) if dev == "cpu" else [None])]
    for w, B, dev, threads in plan:
        torch.set_num_threads(threads or args.threads)
        run = {"workload": w["name"], "backend": f"pytorch-{dev}", "status": "ok", "family": w["model"]["family"],
               "batch": B, "device": torch.cuda.get_device_name(0) if dev == "cuda" else f"{doc['machine']['cpu']} ({threads or args.threads} threads)",
               "device_kind": "gpu" if dev == "cuda" else "cpu", "precision": "Float32"}
        if not is_training(w):
            run["correctness"] = {"passed": None, "max_err": None, "reference": None, "note": note}
        if w.get("seq"):
            run["seq"] = w["seq"]
        if threads or (is_training(w) and dev == "cpu"):
            run["threads"] = threads or args.threads
        label = w["name"] + (f" batch={B}" if isinstance(w["batch"], list) else "") + (f" threads={threads}" if threads else "")
        try:
            if is_training(w):
                run["training"] = train_one(suite, w, B, torch.device(dev))
                run["load_average"] = list(os.getloadavg())  # other work on the cores moves the times
                print_training(label, run)
            else:
                run["throughput"] = run_one(suite, w, B, torch.device(dev), seed)
                t = run["throughput"]
                print(f"{label:<22}{run['backend']:<14}{t['step_ms_median']:>12.3f}{t['step_ms_p10']:>10.3f}"
                      f"{t['step_ms_p90']:>10.3f}{t['steps']:>7}{t['gflops']:>10.2f}", flush=True)
        except (RuntimeError, ValueError, OSError, KeyError) as e:
            message = f"missing field {e}" if isinstance(e, KeyError) else str(e).splitlines()[0]
            run.update(status="failed", error=message)
            print(f"{label:<22}{run['backend']:<14}  failed: {run['error']}", flush=True)
        doc["runs"].append(run)
        doc["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_atomic(out / "results.json", doc)
    print(f"wrote {out / 'results.json'}")


if __name__ == "__main__":
    main()
