#!/usr/bin/env python3
"""Training-step FLOP of a model, as models/FlopCount.cs counts them, for tools/torch_baseline.py's GFLOP/s.

No torch needed: `python3 tools/flop_count.py SUITE.json` prints [{"workload": name, "batch": B, "flop": flop}, ...],
one entry per batch a workload runs at, and tests/KernelLab.Tests/Models/FlopCountTests.cs checks those figures
against FlopCount.cs for every suite.
"""
import json
import sys


def flop_per_step(c, B, T):
    """Forward + backward FLOP: 2 per multiply-add of the products, backward 2x forward. T is None for mlp and cnn."""
    f, tokens = c["family"], B * (T or 1)
    if f == "mlp":
        s = c["sizes"]
        mac = B * sum(s[i - 1] * s[i] for i in range(1, len(s)))
    elif f == "cnn":
        k, prev, h, w, per = c["kernel_size"], c["in_channels"], c["height"], c["width"], 0
        for ch in c["channels"]:
            per += ch * prev * k * k * h * w
            prev, h, w = ch, h // 2, w // 2
        per += prev * h * w * c["hidden"] + c["hidden"] * c["classes"]
        mac = B * per
    elif f in ("lstm", "gru"):
        g, H = (4 if f == "lstm" else 3) * c["hidden"], c["hidden"]
        mac = tokens * (g * c["embed"] + g * H + (c["layers"] - 1) * 2 * g * H + H * c["vocab"])
    else:
        d = c["d_model"]
        per_layer = tokens * (4 * d * d + 2 * d * c["ffn"]) + 2 * B * d * (T * (T + 1) / 2)
        mac = c["layers"] * per_layer + tokens * d * c["vocab"]
    return 6.0 * mac


def batches(w):
    """The batches a workload runs at: its "batch", or each value where the suite gives a list (shared/spec/SUITES.md)."""
    return w["batch"] if isinstance(w["batch"], list) else [w["batch"]]


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        suite = json.load(f)
    print(json.dumps([{"workload": w["name"], "batch": B, "flop": flop_per_step(w["model"], B, w.get("seq"))}
                      for w in suite["workloads"] for B in batches(w)]))
