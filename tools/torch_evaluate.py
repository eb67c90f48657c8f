"""Evaluate KernelLab-saved parameters with PyTorch: fashion-mnist's test accuracy of an mlp or cnn.

The parameters (a safetensors file under PyTorch's state_dict names, as `kernellab` saves them) are loaded into
tools/torch_golden.py's model for the config, and the 10,000 t10k images are evaluated as models/Data/README.md says
(pixels float32(v) / 255, mlp flattened, cnn [1, 28, 28]; batches of --batch in order, the last padded, only real
examples counted; eval mode, no gradients). Prints one JSON line: {"test_accuracy": x, "examples": 10000}.
Bad input (a missing or malformed file, a tensor missing, unexpected or of the wrong shape or dtype) is one line
on stderr and exit code 1.

Run:  /usr/bin/python3 tools/torch_evaluate.py CONFIG.json PARAMS.safetensors [--data-path FOLDER] [--batch N]
"""
import argparse
import json
import struct
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_golden import DTYPES, expected_shapes, read_safetensors  # noqa: E402
from training_data import (DataError, Split, check_image_model, evaluate, golden_model, image_inputs,  # noqa: E402
                           read_fashion_mnist)


class InputError(Exception):
    """Bad input: the message is the one line printed."""


def read_model(path):
    """The config of a config file, checked to be an mlp or cnn that fashion-mnist fits, and its torch_golden model."""
    try:
        c = json.loads(Path(path).read_text())
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(c, dict):
        raise InputError(f"{path}: not a model config (a JSON object with a family)")
    try:
        check_image_model(c)
        return c, golden_model(c)
    except KeyError as e:
        raise InputError(f"{path}: no {e} field in the config") from None
    except ValueError as e:  # DataError, and what golden_model refuses
        raise InputError(f"{path}: {e}") from None


def read_parameters(path, c):
    """The tensors of a safetensors file, checked against the names, shapes and dtype the config's model has (F32; I64
    for batch norm's num_batches_tracked)."""
    if not Path(path).is_file():
        raise InputError(f"{path}: not found")
    try:
        tensors = read_safetensors(path)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, struct.error, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a readable safetensors file of F32/F64/I64 tensors ({e})") from None
    expected = expected_shapes(c)
    for name, shape in expected.items():
        if name not in tensors:
            raise InputError(f"{path}: no tensor {name} (expected {shape} for the {c['family']} config)")
        t = tensors[name]
        if list(t.shape) != shape:
            raise InputError(f"{path}: tensor {name} has shape {list(t.shape)}, expected {shape}")
        want = torch.int64 if name.endswith(".num_batches_tracked") else torch.float32
        if t.dtype != want:
            raise InputError(f"{path}: tensor {name} is {DTYPES[t.dtype][0]}, expected {DTYPES[want][0]}")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise InputError(f"{path}: unexpected tensor {unexpected[0]} (the {c['family']} config has no such parameter)")
    return tensors


def test_accuracy(model, family, params, data_path, B):
    """(test accuracy, examples) of the model with these parameters on fashion-mnist's test set."""
    model.load_state_dict(params)
    images, labels = read_fashion_mnist("test", data_path)
    split = Split(image_inputs(images, family), labels)
    _, accuracy = evaluate(model, split, B, images=True)
    return accuracy, len(split)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", help="model config JSON (shared/spec/MODELS.md), mlp or cnn")
    ap.add_argument("params", help="parameters, safetensors under PyTorch's state_dict names")
    ap.add_argument("--data-path", help="folder of the four fashion-mnist files (default: Debian's)")
    ap.add_argument("--batch", type=int, default=1000, help="evaluation batch (default 1000)")
    args = ap.parse_args()
    try:
        if args.batch < 1:
            raise InputError(f"--batch must be at least 1, not {args.batch}")
        c, model = read_model(args.config)
        accuracy, examples = test_accuracy(model, c["family"], read_parameters(args.params, c), args.data_path, args.batch)
    except (InputError, DataError) as e:
        print(f"torch_evaluate: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"test_accuracy": accuracy, "examples": examples}))


if __name__ == "__main__":
    main()
