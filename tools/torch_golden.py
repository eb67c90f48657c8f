"""Write PyTorch golden test cases for the KernelLab model contract (shared/spec/MODELS.md).

For every case below this writes, into --out (default: tests/fixtures/golden under the repo root):
  <case>.config.json          the model config, as MODELS.md describes it
  <case>.params.safetensors   every parameter (F32) under its state_dict name (PyTorch default init)
  <case>.batch.safetensors    x (F32 for mlp/cnn, I64 token ids for lstm/transformer) and y (I64)
  <case>.grads.safetensors    float64 gradient (F64) of the mean cross-entropy for every parameter,
                              computed from exactly the saved float32 values, plus `loss` (0-dim F64)
  <case>.train.json           {"trajectories": [{"optimizer": {...}, "steps": 5, "losses": [...]}]}:
                              float64 loss before each of 5 (zero_grad, forward, backward, step)
                              repeats on the same batch; optimizer keys other than name/lr appear
                              only where they differ from torch.optim's defaults.
Cases with training blocks (MODELS.md, "Training blocks": dropout, batch norm, the gru family, l1 and clip_grad_norm)
apply KernelLab's dropout masks explicitly (Philox4x32-10, as backends/Contract/OpTypes.cs DropoutMask gives the recipe:
seed 1, step 1 for the gradients, step s for the s-th optimizer step), and their trajectories also record the batch
norm buffers after the last step ("buffers") and the loss in eval mode then ("eval_loss").
Before writing, it checks each module's state_dict names/shapes against MODELS.md, checks a few
gradient elements per case with float64 central differences, and checks the transformer's
hand-written attention against nn.MultiheadAttention. The output is byte-for-byte deterministic.

Run (Debian's PyTorch, torch 1.13 CPU):  /usr/bin/python3 tools/torch_golden.py [--out DIR] [--cases NAME,...]
(--cases writes only those cases: the others' files stay as they were written.)
"""
import argparse
import inspect
import json
import math
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- dropout masks (DropoutMask, backends/Contract/OpTypes.cs)
U32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Random123's philox4x32 with 10 rounds over uint64 arrays that hold uint32 values."""
    m0, m1, w0, w1, s32 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57), np.uint64(0x9E3779B9), np.uint64(0xBB67AE85), np.uint64(32)
    for r in range(10):
        if r:
            k0, k1 = (k0 + w0) & U32, (k1 + w1) & U32
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = (p1 >> s32) ^ c1 ^ k0, p1 & U32, (p0 >> s32) ^ c3 ^ k1, p0 & U32
    return c0, c1, c2, c3


assert philox4x32_10(*(np.uint64(v) for v in (0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0))) == \
    (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1), "philox4x32-10 known answer"


def dropout_keep(n, p, seed, site, step):
    """Element i is kept when word i % 4 of philox(counter (i/4, site, step lo, step hi), key (seed lo, seed hi)) >= round(p 2^32)."""
    groups = np.arange((n + 3) // 4, dtype=np.uint64)
    const = lambda v: np.full_like(groups, v)
    words = philox4x32_10(groups, const(site), const(step & 0xFFFFFFFF), const(step >> 32), const(seed & 0xFFFFFFFF), const(seed >> 32))
    threshold = min(2 ** 32 - 1, round(p * 2 ** 32))
    return np.stack(words, axis=1).reshape(-1)[:n] >= threshold


class Dropping(nn.Module):
    """A model with dropout: drop(x, site) multiplies by KernelLab's mask of the site in train mode (seed and step set by
    the caller), or, with exact_masks False (tools/torch_baseline.py's timing and training), by F.dropout's own."""

    def __init__(self, c):
        super().__init__()
        self.p, self.seed, self.step, self.exact_masks = c.get("dropout", 0), 1, 1, True

    def drop(self, x, site):
        if not self.training or self.p == 0:
            return x
        if not self.exact_masks:
            return F.dropout(x, self.p, training=True)
        keep = torch.from_numpy(dropout_keep(x.numel(), self.p, self.seed, site, self.step)).view_as(x)
        return x * (keep.to(x.dtype) * (1 / (1 - self.p)))


# ---------------------------------------------------------------- models (MODELS.md)
class MLP(Dropping):
    def __init__(self, c):
        super().__init__(c)
        self.n, self.bn = len(c["sizes"]) - 1, c.get("batch_norm", False)
        for i in range(1, self.n + 1):
            self.add_module(f"fc{i}", nn.Linear(c["sizes"][i - 1], c["sizes"][i]))
            if self.bn and i < self.n:
                self.add_module(f"bn{i}", nn.BatchNorm1d(c["sizes"][i]))

    def forward(self, x):
        for i in range(1, self.n + 1):
            x = getattr(self, f"fc{i}")(x)
            if i < self.n:
                x = self.drop(F.relu(getattr(self, f"bn{i}")(x) if self.bn else x), i - 1)
        return x


class CNN(Dropping):
    def __init__(self, c):
        super().__init__(c)
        k, prev, h, w = c["kernel_size"], c["in_channels"], c["height"], c["width"]
        self.n, self.bn = len(c["channels"]), c.get("batch_norm", False)
        for i, ch in enumerate(c["channels"], 1):
            self.add_module(f"conv{i}", nn.Conv2d(prev, ch, k, stride=1, padding=k // 2))
            if self.bn:
                self.add_module(f"bn{i}", nn.BatchNorm2d(ch))
            prev, h, w = ch, h // 2, w // 2
            assert h >= 1 and w >= 1, "spatial size vanished after pooling"
        self.fc1 = nn.Linear(prev * h * w, c["hidden"])
        self.fc2 = nn.Linear(c["hidden"], c["classes"])

    def forward(self, x):
        for i in range(1, self.n + 1):
            x = getattr(self, f"conv{i}")(x)
            x = F.max_pool2d(F.relu(getattr(self, f"bn{i}")(x) if self.bn else x), 2)
        return self.fc2(self.drop(F.relu(self.fc1(x.flatten(1))), 0))


class LSTM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed = nn.Embedding(c["vocab"], c["embed"])
        self.lstm = nn.LSTM(c["embed"], c["hidden"], num_layers=c["layers"], batch_first=True)
        self.head = nn.Linear(c["hidden"], c["vocab"])

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))  # zero initial state
        return self.head(out)


class GRU(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed = nn.Embedding(c["vocab"], c["embed"])
        self.gru = nn.GRU(c["embed"], c["hidden"], num_layers=c["layers"], batch_first=True)
        self.head = nn.Linear(c["hidden"], c["vocab"])

    def forward(self, x):
        out, _ = self.gru(self.embed(x))  # zero initial state
        return self.head(out)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.heads = c["heads"]
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.attn_qkv = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp_fc = nn.Linear(d, c["ffn"])
        self.mlp_proj = nn.Linear(c["ffn"], d)

    def attention(self, x):  # x: [B, T, d] -> [B, T, d], before attn_proj
        B, T, d = x.shape
        hd = d // self.heads
        q, k, v = self.attn_qkv(x).split(d, dim=-1)
        q, k, v = (t.view(B, T, self.heads, hd).transpose(1, 2) for t in (q, k, v))
        s = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)  # True = future position
        s = s.masked_fill(mask, float("-inf"))
        return (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, d)

    def forward(self, x, drop, i):
        x = x + drop(self.attn_proj(self.attention(self.ln1(x))), 1 + 2 * i)
        return x + drop(self.mlp_proj(F.gelu(self.mlp_fc(self.ln2(x)), approximate="tanh")), 2 + 2 * i)


class Transformer(Dropping):
    def __init__(self, c):
        super().__init__(c)
        assert c["d_model"] % c["heads"] == 0
        self.wte = nn.Embedding(c["vocab"], c["d_model"])
        self.wpe = nn.Embedding(c["context"], c["d_model"])
        self.h = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.ln_f = nn.LayerNorm(c["d_model"], eps=1e-5)
        self.lm_head = nn.Linear(c["d_model"], c["vocab"], bias=False)

    def forward(self, idx):
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.shape[1])), 0)
        for i, block in enumerate(self.h):
            x = block(x, self.drop, i)
        return self.lm_head(self.ln_f(x))


FAMILIES = {"mlp": MLP, "cnn": CNN, "lstm": LSTM, "gru": GRU, "transformer": Transformer}


def batch_norm_shapes(name, channels):
    return {f"{name}.weight": [channels], f"{name}.bias": [channels], f"{name}.running_mean": [channels],
            f"{name}.running_var": [channels], f"{name}.num_batches_tracked": []}


def expected_shapes(c):
    """The parameter names and shapes exactly as MODELS.md lists them."""
    f = c["family"]
    if f == "mlp":
        s, out = c["sizes"], {}
        for i in range(1, len(s)):
            out.update({f"fc{i}.weight": [s[i], s[i - 1]], f"fc{i}.bias": [s[i]]})
            if c.get("batch_norm") and i < len(s) - 1:
                out.update(batch_norm_shapes(f"bn{i}", s[i]))
        return out
    if f == "cnn":
        k, prev, h, w, out = c["kernel_size"], c["in_channels"], c["height"], c["width"], {}
        for i, ch in enumerate(c["channels"], 1):
            out[f"conv{i}.weight"], out[f"conv{i}.bias"] = [ch, prev, k, k], [ch]
            if c.get("batch_norm"):
                out.update(batch_norm_shapes(f"bn{i}", ch))
            prev, h, w = ch, h // 2, w // 2
        out.update({"fc1.weight": [c["hidden"], prev * h * w], "fc1.bias": [c["hidden"]],
                    "fc2.weight": [c["classes"], c["hidden"]], "fc2.bias": [c["classes"]]})
        return out
    if f in ("lstm", "gru"):
        V, E, H, G = c["vocab"], c["embed"], c["hidden"], 4 if f == "lstm" else 3
        out = {"embed.weight": [V, E]}
        for k in range(c["layers"]):
            out.update({f"{f}.weight_ih_l{k}": [G * H, E if k == 0 else H],
                        f"{f}.weight_hh_l{k}": [G * H, H],
                        f"{f}.bias_ih_l{k}": [G * H], f"{f}.bias_hh_l{k}": [G * H]})
        return {**out, "head.weight": [V, H], "head.bias": [V]}
    V, d, ffn = c["vocab"], c["d_model"], c["ffn"]
    out = {"wte.weight": [V, d], "wpe.weight": [c["context"], d]}
    for i in range(c["layers"]):
        p = f"h.{i}."
        out.update({p + "ln1.weight": [d], p + "ln1.bias": [d],
                    p + "attn_qkv.weight": [3 * d, d], p + "attn_qkv.bias": [3 * d],
                    p + "attn_proj.weight": [d, d], p + "attn_proj.bias": [d],
                    p + "ln2.weight": [d], p + "ln2.bias": [d],
                    p + "mlp_fc.weight": [ffn, d], p + "mlp_fc.bias": [ffn],
                    p + "mlp_proj.weight": [d, ffn], p + "mlp_proj.bias": [d]})
    return {**out, "ln_f.weight": [d], "ln_f.bias": [d], "lm_head.weight": [V, d]}


def loss_fn(model, x, y):
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


# ---------------------------------------------------------------- safetensors by hand
DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8")}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        code, np_dtype = DTYPES[t.dtype]
        data = t.detach().contiguous().numpy().astype(np_dtype).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    rev = {code: (dt, np_dt) for dt, (code, np_dt) in DTYPES.items()}
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        dt, _ = rev[e["dtype"]]
        out[name] = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + end]), dtype=dt).reshape(e["shape"])
    return out


# ---------------------------------------------------------------- cases
CASES = [  # (name, seed, config, batch, time steps)
    ("mlp_a", 101, {"family": "mlp", "sizes": [13, 7, 5]}, 3, None),
    ("mlp_b", 102, {"family": "mlp", "sizes": [9, 11, 6, 4, 3]}, 5, None),
    ("mlp_c", 103, {"family": "mlp", "sizes": [6, 4]}, 2, None),
    ("cnn_a", 201, {"family": "cnn", "in_channels": 2, "height": 7, "width": 10, "channels": [3, 4],
                    "kernel_size": 3, "hidden": 6, "classes": 5}, 2, None),
    ("cnn_b", 202, {"family": "cnn", "in_channels": 1, "height": 9, "width": 6, "channels": [3],
                    "kernel_size": 5, "hidden": 7, "classes": 3}, 3, None),
    ("cnn_c", 203, {"family": "cnn", "in_channels": 3, "height": 5, "width": 4, "channels": [2, 3],
                    "kernel_size": 1, "hidden": 4, "classes": 4}, 2, None),
    ("lstm_a", 301, {"family": "lstm", "vocab": 11, "embed": 5, "hidden": 7, "layers": 1}, 3, 4),
    ("lstm_b", 302, {"family": "lstm", "vocab": 13, "embed": 6, "hidden": 5, "layers": 2}, 2, 5),
    ("transformer_a", 401, {"family": "transformer", "vocab": 17, "context": 8, "d_model": 12,
                            "heads": 3, "layers": 1, "ffn": 20}, 2, 5),
    ("transformer_b", 402, {"family": "transformer", "vocab": 11, "context": 6, "d_model": 8,
                            "heads": 2, "layers": 2, "ffn": 16}, 3, 6),
    ("transformer_c", 403, {"family": "transformer", "vocab": 7, "context": 4, "d_model": 6,
                            "heads": 1, "layers": 1, "ffn": 5}, 1, 3),
    # The training blocks (MODELS.md, "Training blocks").
    ("mlp_drop", 104, {"family": "mlp", "sizes": [13, 9, 7, 5], "dropout": 0.3}, 6, None),
    ("mlp_bn", 105, {"family": "mlp", "sizes": [9, 11, 6, 4], "batch_norm": True, "dropout": 0.2}, 5, None),
    ("mlp_reg", 106, {"family": "mlp", "sizes": [11, 8, 6]}, 4, None),
    ("cnn_bn", 204, {"family": "cnn", "in_channels": 2, "height": 7, "width": 6, "channels": [3, 4],
                     "kernel_size": 3, "hidden": 6, "classes": 5, "batch_norm": True, "dropout": 0.25}, 3, None),
    ("gru_a", 501, {"family": "gru", "vocab": 11, "embed": 5, "hidden": 7, "layers": 1}, 3, 4),
    ("gru_b", 502, {"family": "gru", "vocab": 13, "embed": 6, "hidden": 5, "layers": 2}, 2, 5),
    ("transformer_drop", 404, {"family": "transformer", "vocab": 17, "context": 8, "d_model": 12,
                               "heads": 3, "layers": 2, "ffn": 20, "dropout": 0.2}, 2, 5),
]

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
              "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}
ALL_CASES_OPT = [("adamw", dict(lr=0.01, weight_decay=0.01))]
EXTRA_OPT = [  # mlp_a and lstm_a only
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd", dict(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.01)),
    ("adam", dict(lr=0.01, weight_decay=0.02, betas=(0.8, 0.95))),
    ("rmsprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    ("rmsprop", dict(lr=0.01)),
    ("adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("adam", dict(lr=0.01)),
]
# mlp_reg only: the training step's l1 and clip_grad_norm (KernelLab's optimizer fields, not torch.optim's), with a clip
# that triggers on every step and one that never does (both asserted).
REGULARISED = [
    ("sgd", dict(lr=0.1), dict(l1=0.01)),
    ("sgd", dict(lr=0.1), dict(clip_grad_norm=0.05)),  # SGD: unlike Adam, its step scales with the clipped gradient
    ("sgd", dict(lr=0.1, momentum=0.9), dict(clip_grad_norm=100.0)),
    ("adam", dict(lr=0.01), dict(l1=0.001, clip_grad_norm=0.5)),
]
STEPS = 5

# Learning-rate schedules (MODELS.md, "Training blocks"), stepped once per optimizer step: KernelLab's "schedule" objects
# and the torch.optim.lr_scheduler each means. mlp_a trains with each (EXTRA_SCHEDULED); schedules.json holds each one's
# rates over 20 steps, and ReduceLROnPlateau's over a fixed sequence of validation losses.
SCHEDULES = [
    {"name": "step", "step_size": 2, "gamma": 0.5},
    {"name": "cosine", "t_max": 4, "eta_min": 0.001},
    {"name": "warmup_cosine", "warmup": 2, "t_max": 3, "eta_min": 0.0005},
]
EXTRA_SCHEDULED = [("adamw", dict(lr=0.01, weight_decay=0.01)), ("sgd", dict(lr=0.1, momentum=0.9))]
PLATEAU = {"name": "plateau", "factor": 0.5, "patience": 1}
PLATEAU_LOSSES = [2.0, 1.5, 1.5, 1.49999, 1.6, 1.2, 1.2, 1.2, 1.2, 1.1, 1.1, 1.1, 1.1, 1.1]


def make_scheduler(opt, sched):
    """The torch.optim.lr_scheduler that a KernelLab "schedule" object means."""
    name = sched["name"]
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=sched["step_size"], gamma=sched["gamma"])
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=sched["t_max"], eta_min=sched.get("eta_min", 0))
    if name == "warmup_cosine":
        warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=sched["warmup"])
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=sched["t_max"], eta_min=sched.get("eta_min", 0))
        return torch.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[sched["warmup"]])
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=sched["factor"], patience=sched["patience"])
    raise ValueError(name)


def write_schedules(out, steps=20, lr=0.1):
    """schedules.json: the rate of each of `steps` optimizer steps under each schedule, and under plateau the rate after
    each validation loss of PLATEAU_LOSSES."""
    cases = []
    for sched in SCHEDULES:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
        scheduler = make_scheduler(opt, sched)
        lrs = []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
        cases.append({"schedule": sched, "lr": lr, "lrs": lrs})
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(opt, PLATEAU)
    lrs = []
    for loss in PLATEAU_LOSSES:
        scheduler.step(loss)
        lrs.append(opt.param_groups[0]["lr"])
    cases.append({"schedule": PLATEAU, "lr": lr, "validation_losses": PLATEAU_LOSSES, "lrs": lrs})
    (out / "schedules.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")


def optimizer_json(name, kw):
    """name, lr, and only the hyper-parameters that differ from torch.optim's defaults."""
    defaults = inspect.signature(OPTIMIZERS[name].__init__).parameters
    out = {"name": name, "lr": kw["lr"]}
    for key, v in kw.items():
        if key != "lr" and v != defaults[key].default:
            out[key] = list(v) if isinstance(v, tuple) else v
    return out


def make_batch(c, B, T):
    f = c["family"]
    if f == "mlp":
        return torch.randn(B, c["sizes"][0]), torch.randint(0, c["sizes"][-1], (B,))
    if f == "cnn":
        return (torch.randn(B, c["in_channels"], c["height"], c["width"]),
                torch.randint(0, c["classes"], (B,)))
    assert T <= c.get("context", T)
    return torch.randint(0, c["vocab"], (B, T)), torch.randint(0, c["vocab"], (B, T))


def model64(c, params32):
    m = FAMILIES[c["family"]](c)
    m.load_state_dict(params32)
    return m.double()


def check_finite_differences(c, params32, x, y, grads, seed, eps=1e-6):
    """Central differences in float64 at two elements of every parameter (largest |grad| and a random one)."""
    m = model64(c, params32)
    g = torch.Generator().manual_seed(seed)
    for name, p in m.named_parameters():
        flat = p.data.view(-1)
        for i in {int(grads[name].abs().argmax()), int(torch.randint(flat.numel(), (1,), generator=g))}:
            with torch.no_grad():
                old = flat[i].item()
                flat[i] = old + eps
                lp = loss_fn(m, x, y).item()
                flat[i] = old - eps
                lm = loss_fn(m, x, y).item()
                flat[i] = old
            fd, an = (lp - lm) / (2 * eps), grads[name].view(-1)[i].item()
            assert abs(fd - an) <= 1e-8 + 1e-6 * abs(an), f"FD check failed: {name}[{i}] fd={fd} autograd={an}"


def check_attention(c, params32, x):
    """The hand-written causal attention must agree with nn.MultiheadAttention on the same weights."""
    m = model64(c, params32)
    d, T = c["d_model"], x.shape[1]
    h = m.wte(x) + m.wpe(torch.arange(T))
    for i, blk in enumerate(m.h):
        mha = nn.MultiheadAttention(d, c["heads"], batch_first=True).double()
        with torch.no_grad():
            mha.in_proj_weight.copy_(blk.attn_qkv.weight)
            mha.in_proj_bias.copy_(blk.attn_qkv.bias)
            mha.out_proj.weight.copy_(blk.attn_proj.weight)
            mha.out_proj.bias.copy_(blk.attn_proj.bias)
        a = blk.ln1(h)
        ref, _ = mha(a, a, a, attn_mask=torch.ones(T, T, dtype=torch.bool).triu(1), need_weights=False)
        assert torch.allclose(blk.attn_proj(blk.attention(a)), ref, rtol=1e-10, atol=1e-12), "attention mismatch"
        h = blk(h, m.drop, i)


def l1_penalty(m, l1):
    """l1 * sum |w| over every parameter of two or more dimensions."""
    return l1 * sum(p.abs().sum() for p in m.parameters() if p.dim() >= 2)


def trajectory(c, params32, x64, y, opt_name, kw, sched, extra):
    """5 steps of (zero_grad, forward with step s's masks, l1, backward, clip, step); with batch norm, its buffers after them
    and the eval-mode loss then."""
    m = model64(c, params32)
    opt = OPTIMIZERS[opt_name](m.parameters(), foreach=False, **kw)
    scheduler = make_scheduler(opt, sched) if sched else None
    losses, lrs, clipped = [], [], []
    for s in range(STEPS):
        opt.zero_grad()
        m.step = s + 1
        l = loss_fn(m, x64, y)
        if extra.get("l1"):
            l = l + l1_penalty(m, extra["l1"])
        losses.append(l.item())
        lrs.append(opt.param_groups[0]["lr"])
        l.backward()
        if "clip_grad_norm" in extra:
            norm = torch.nn.utils.clip_grad_norm_(m.parameters(), extra["clip_grad_norm"])
            clipped.append(norm.item() > extra["clip_grad_norm"])
        opt.step()
        if scheduler:
            scheduler.step()
    assert all(math.isfinite(v) for v in losses)
    if "clip_grad_norm" in extra:
        assert all(clipped) or not any(clipped), f"clip_grad_norm {extra['clip_grad_norm']} should trigger on every step or on none: {clipped}"
    optimizer = {**optimizer_json(opt_name, kw), **extra}
    t = {"optimizer": {**optimizer, "schedule": sched} if sched else optimizer, "steps": STEPS, "losses": losses}
    if sched:
        t["lrs"] = lrs
    if "clip_grad_norm" in extra:
        t["clipped"] = clipped[0]
    buffers = {k: v for k, v in m.state_dict().items() if ".running_" in k or k.endswith(".num_batches_tracked")}
    if buffers:
        t["buffers"] = {k: v.item() if v.dim() == 0 else v.tolist() for k, v in buffers.items()}
        m.eval()
        with torch.no_grad():
            t["eval_loss"] = loss_fn(m, x64, y).item()
    return t


def run_case(out, name, seed, c, B, T):
    torch.manual_seed(seed)
    model = FAMILIES[c["family"]](c)
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert got == expected_shapes(c), f"{name}: state_dict differs from MODELS.md:\n{got}"
    # Parameters and float buffers as F32; num_batches_tracked stays I64, as state_dict() holds it.
    params32 = {k: (v.to(torch.float32) if v.is_floating_point() else v).detach().clone() for k, v in model.state_dict().items()}
    x, y = make_batch(c, B, T)
    x64 = x.double() if x.is_floating_point() else x

    m = model64(c, params32)
    loss = loss_fn(m, x64, y)
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in m.named_parameters()}
    assert list(grads) == [k for k, _ in model.named_parameters()]
    check_finite_differences(c, params32, x64, y, grads, seed)
    if c["family"] == "transformer":
        check_attention(c, params32, x64)

    runs = [(o, kw, None, {}) for o, kw in ALL_CASES_OPT + (EXTRA_OPT if name in ("mlp_a", "lstm_a") else [])]
    if name == "mlp_a":
        runs += [(o, kw, sched, {}) for sched in SCHEDULES for o, kw in EXTRA_SCHEDULED]
    if name == "mlp_reg":
        runs += [(o, kw, None, extra) for o, kw, extra in REGULARISED]
    trajectories = [trajectory(c, params32, x64, y, *run) for run in runs]
    assert trajectories[0]["losses"][0] == loss.item()

    (out / f"{name}.config.json").write_text(json.dumps(c) + "\n")
    write_safetensors(out / f"{name}.params.safetensors", params32, {"format": "pt"})
    write_safetensors(out / f"{name}.batch.safetensors", {"x": x, "y": y})
    write_safetensors(out / f"{name}.grads.safetensors", {**grads, "loss": loss.detach().reshape(())})
    (out / f"{name}.train.json").write_text(json.dumps({"trajectories": trajectories}, indent=1) + "\n")
    back = read_safetensors(out / f"{name}.grads.safetensors")
    assert back["loss"].shape == () and all(torch.equal(back[k], v) for k, v in grads.items())
    print(f"{name:16s} loss={loss.item():.17g}  params={sum(v.numel() for v in params32.values())}"
          f"  trajectories={len(trajectories)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "golden")
    ap.add_argument("--cases", help="comma-separated case names to write (default: every case, and schedules.json)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    only = set(args.cases.split(",")) if args.cases else None
    unknown = (only or set()) - {case[0] for case in CASES}
    if unknown:
        ap.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    for case in CASES:
        if only is None or case[0] in only:
            run_case(args.out, *case)
    if only is None:
        write_schedules(args.out)


if __name__ == "__main__":
    main()
