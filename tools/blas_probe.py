"""The CPU, OpenBLAS's kernel for it, and the BLAS that torch runs on: shared by tools/torch_baseline.py and
tools/torch_sgemm.py, so that the PyTorch they time is a fair baseline on any CPU.

OpenBLAS picks its kernels (its "core") from the CPU model when it loads, unless OPENBLAS_CORETYPE names one. Debian's
OpenBLAS 0.3.21, under its PyTorch 1.13, does not know CPUs newer than itself (Intel model 207, AMD Zen 4) and falls
back without a word to a generic kernel, 6x slower at SGEMM. So `choose_openblas_coretype`, called before torch is
imported, sets OPENBLAS_CORETYPE to the best core that /proc/cpuinfo's flags allow, unless the user set it.
"""
import ctypes
import os
import platform
import re
import sys
from pathlib import Path
from typing import NamedTuple

# What OpenBLAS's SkylakeX kernels run on (AVX-512 F, CD, BW, DQ, VL); Cooperlake's also use BF16 and VNNI.
SKYLAKEX_FLAGS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
COOPERLAKE_FLAGS = SKYLAKEX_FLAGS | {"avx512_bf16", "avx512_vnni"}
AMD_VENDORS = ("AuthenticAMD", "HygonGenuine")  # Hygon's Dhyana is a Zen


class Cpu(NamedTuple):
    vendor: str
    model: str
    flags: frozenset


def cpu(cpuinfo="/proc/cpuinfo"):
    """The first processor of /proc/cpuinfo: vendor, model name (platform's name where there is none) and flags."""
    fields = {}
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return Cpu(fields.get("vendor_id", ""), fields.get("model name") or platform.processor() or platform.machine(),
               frozenset(fields.get("flags", "").split()))


def best_coretype(c):
    """The fastest OPENBLAS_CORETYPE that CPU `c` supports, and why; None where OpenBLAS's own choice is as good."""
    if COOPERLAKE_FLAGS <= c.flags:
        return "Cooperlake", "AVX-512 with BF16 and VNNI"
    if SKYLAKEX_FLAGS <= c.flags:
        return "SkylakeX", "AVX-512 (F, CD, BW, DQ, VL)"
    if {"avx2", "fma"} <= c.flags:
        return ("Zen", "AMD with AVX2 and FMA") if c.vendor in AMD_VENDORS else ("Haswell", "AVX2 and FMA")
    return None, "no AVX2 with FMA, which OpenBLAS's cores for newer CPUs need"


def choose_openblas_coretype():
    """Sets OPENBLAS_CORETYPE to `best_coretype` of this CPU where the user did not set it, and prints one line saying
    which and why. OpenBLAS reads it once, when it loads: so this runs before torch is imported. Returns the why."""
    if "torch" in sys.modules:
        raise RuntimeError("choose_openblas_coretype() must run before torch is imported: OpenBLAS reads OPENBLAS_CORETYPE as it loads")
    if "OPENBLAS_CORETYPE" in os.environ:
        why = "set by the user"
    else:
        core, reason = best_coretype(cpu())
        if core:
            os.environ["OPENBLAS_CORETYPE"] = core
            why = f"chosen for this CPU ({reason}): set, since OpenBLAS 0.3.21 falls back to a generic kernel on a CPU it does not know"
        else:
            why = f"left to OpenBLAS: {reason}"
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, {why}", file=sys.stderr, flush=True)
    return why


def blas(coretype_why):
    """The results' machine fields of the BLAS torch runs on: `blas` (OpenBLAS's build string, core and library where
    OpenBLAS is loaded; MKL's version where torch was built with MKL; torch's BLAS_INFO with any mapped *blas* library
    otherwise), `openblas_core` (the core OpenBLAS runs, from openblas_get_corename), `openblas_coretype` (the
    environment's OPENBLAS_CORETYPE) and `openblas_coretype_why` (`choose_openblas_coretype`'s answer)."""
    import torch  # imported here: the module is imported before torch, to set OPENBLAS_CORETYPE first

    torch.mm(torch.rand(8, 8), torch.rand(8, 8))  # loads the BLAS, so that its library shows in the process's maps
    shown = torch.__config__.show()
    info = re.search(r"BLAS_INFO=([^,\s]+)", shown)
    torch_info = f"torch BLAS_INFO={info.group(1) if info else 'unknown'}"
    try:
        mapped = sorted({line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                         if "blas" in line.rsplit("/", 1)[-1].lower() and "/" in line})
    except OSError:
        mapped = []
    fields = {"openblas_core": None, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "openblas_coretype_why": coretype_why}
    for path in (p for p in mapped if "libopenblas" in p):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = lib.openblas_get_corename.restype = ctypes.c_char_p
            config, core = lib.openblas_get_config().decode(), lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
        return fields | {"blas": f"{config}; core {core}; {path}; {torch_info}", "openblas_core": core}
    mkl = re.search(r"Intel\(R\)[^\n]*Math Kernel Library[^\n]*", shown)
    return fields | {"blas": "; ".join(([mkl.group(0).strip()] if mkl else []) + mapped + [torch_info])}
