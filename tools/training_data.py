"""models/Data/README.md in Python: the data sets of a suite's "data", split, ordered and evaluated exactly as
`kernellab run` does, so that tools/torch_baseline.py trains PyTorch on the same examples in the same order.

- SeededRandom: models/Parameters.cs's xoshiro256** seeded by SplitMix64, with 64-bit masks.
- epoch_order: the Fisher-Yates order of one epoch, counter-based on (seed, epoch).
- load_data: a workload's "data" as train / validation / test splits of (x, y) tensors, inputs shaped for its family.
- golden_model: tools/torch_golden.py's model for a config, refusing what it does not model.
- evaluate: the mean cross-entropy and accuracy of a split, in order, in batches of B (images: the last batch padded,
  only real examples counted; text: only full batches).
Missing or malformed data is a DataError (a ValueError) whose message is one line naming the file and, for Debian's
data sets, the package to install.
"""
import gzip
import math
import struct
from pathlib import Path
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from torch_golden import FAMILIES

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                       "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
IMAGE_SIDE, IMAGE_CLASSES = 28, 10
TEXT_FAMILIES = ("lstm", "gru", "transformer")
IMAGE_FAMILIES = ("mlp", "cnn")


class DataError(ValueError):
    """A data set that is missing, malformed or does not fit the model: the message is one line."""


# ---------------------------------------------------------------- the generator (models/Parameters.cs)
def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class SeededRandom:
    """xoshiro256** seeded by four SplitMix64 outputs, as KernelLab's SeededRandom: the same numbers for the same seed."""

    def __init__(self, seed):
        state, self.s = seed & MASK64, []
        for _ in range(4):
            state = (state + GOLDEN_GAMMA) & MASK64
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.s.append(z ^ (z >> 31))

    def next_uint64(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & MASK64, 7) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        self.s = [s0, s1, s2, _rotl(s3, 45)]
        return result

    def next_double(self):
        """Uniform in [0, 1), 53 random bits."""
        return (self.next_uint64() >> 11) * (1.0 / (1 << 53))

    def next_int(self, count):
        """Uniform integer in [0, count): floor(next_double() * count), as C#'s (int) cast of the product."""
        return int(self.next_double() * count)

    def next_gaussian(self):
        """Standard normal (Box-Muller), as KernelLab's NextGaussian."""
        u1 = 1.0 - self.next_double()  # (0, 1]: log is finite
        u2 = self.next_double()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


AUGMENT_GAMMA = 0xD1B54A32D192ED03


def augment_batch(x, augment, seed, epoch, k):
    """Batch k of epoch `epoch` augmented as models/Data/README.md's "Augmentation": one generator per batch; for each
    example in order, the crop's top and left offsets into the zero-padded image (next_int(2p + 1) each, p the padding),
    then the flip (next_double() < 0.5); crop first, then flip, as Compose([RandomCrop, RandomHorizontalFlip])."""
    p, hflip = augment.get("crop_padding", 0), augment.get("hflip", False)
    rng = SeededRandom((epoch_seed(seed, epoch) + AUGMENT_GAMMA * (k + 1)) & MASK64)
    images = x.reshape(len(x), 1, IMAGE_SIDE, IMAGE_SIDE)
    padded = F.pad(images, (p, p, p, p))
    out = torch.empty_like(images)
    for s in range(len(x)):
        top, left = (rng.next_int(2 * p + 1), rng.next_int(2 * p + 1)) if p else (0, 0)
        image = padded[s, :, top:top + IMAGE_SIDE, left:left + IMAGE_SIDE]
        out[s] = image.flip(-1) if hflip and rng.next_double() < 0.5 else image
    return out.reshape(x.shape)


def epoch_seed(seed, epoch):
    """The generator seed of epoch `epoch` (from 0): (seed + 0x9E3779B97F4A7C15 * (epoch + 1)) mod 2^64."""
    return (seed + GOLDEN_GAMMA * (epoch + 1)) & MASK64


def epoch_order(seed, epoch, n):
    """The order of epoch `epoch` (from 0) of `n` training examples for `seed`: Fisher-Yates with its own generator."""
    rng = SeededRandom(epoch_seed(seed, epoch))
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.next_int(i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


# ---------------------------------------------------------------- data sets
class Split(NamedTuple):
    """One split: inputs x (float32 images or int64 token windows) and targets y (int64), one example per row."""
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self):
        return self.x.shape[0]

    def to(self, device):
        return Split(self.x.to(device), self.y.to(device))


class DataSet(NamedTuple):
    """The splits of a workload's data. `test` is None for text; `images` says which evaluation rule applies."""
    train: Split
    validation: Split
    test: Optional[Split]
    images: bool

    def to(self, device):
        return DataSet(self.train.to(device), self.validation.to(device),
                       self.test.to(device) if self.test is not None else None, self.images)


def read_idx(path, dims):
    """The dimensions and uint8 payload of a gzipped IDX file (magic 0x0000 08 <dims>, big-endian sizes)."""
    if not path.is_file():
        raise DataError(f"{path}: not found (fashion-mnist comes from Debian's dataset-fashion-mnist package)")
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: not a readable gzip file ({e})") from None
    if len(raw) < 4 + 4 * dims or raw[:4] != bytes([0, 0, 8, dims]):
        raise DataError(f"{path}: not an IDX file of {dims} dimension(s) of unsigned bytes")
    shape = struct.unpack(f">{dims}I", raw[4:4 + 4 * dims])
    offset = 4 + 4 * dims
    if len(raw) != offset + math.prod(shape):
        raise DataError(f"{path}: {len(raw) - offset} data bytes, expected {math.prod(shape)} for shape {list(shape)}")
    return shape, torch.frombuffer(bytearray(raw), dtype=torch.uint8, offset=offset).reshape(shape)


def read_fashion_mnist(part, folder=None):
    """Images (uint8 [N, 28, 28]) and labels (int64 [N]) of fashion-mnist's "train" or "test" files."""
    folder = Path(folder) if folder else FASHION_MNIST_DIR
    images_file, labels_file = (folder / name for name in FASHION_MNIST_FILES[part])
    shape, images = read_idx(images_file, 3)
    (count,), labels = read_idx(labels_file, 1)
    if shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or count != shape[0]:
        raise DataError(f"{images_file}: {list(shape)} images for {count} labels, expected [N, 28, 28] and N labels")
    if int(labels.max()) >= IMAGE_CLASSES:
        raise DataError(f"{labels_file}: a label {int(labels.max())} outside [0, {IMAGE_CLASSES})")
    return images, labels.long()


def image_inputs(images, family):
    """float32(v) / 255, as `torch.tensor(v).float() / 255`: mlp reads 784 features row-major, cnn [1, 28, 28]."""
    x = images.float() / 255
    return x.reshape(len(x), -1) if family == "mlp" else x.unsqueeze(1)


def check_image_model(c):
    """A model that fashion-mnist fits: mlp 784 -> ... -> 10, cnn 1 x 28 x 28 -> 10 classes."""
    f = c["family"]
    if f not in IMAGE_FAMILIES:
        raise DataError(f"fashion-mnist is image data, for mlp or cnn, not {f}")
    if f == "mlp" and (c["sizes"][0] != IMAGE_SIDE * IMAGE_SIDE or c["sizes"][-1] != IMAGE_CLASSES):
        raise DataError(f"fashion-mnist needs an mlp of 784 inputs and 10 outputs, not sizes {c['sizes']}")
    if f == "cnn" and [c["in_channels"], c["height"], c["width"], c["classes"]] != [1, IMAGE_SIDE, IMAGE_SIDE, IMAGE_CLASSES]:
        raise DataError("fashion-mnist needs a cnn of in_channels 1, height 28, width 28 and 10 classes")


def load_fashion_mnist(spec, c):
    """The first 60000 - validation training images for training, the last `validation` for validation, t10k for test."""
    check_image_model(c)
    images, labels = read_fashion_mnist("train", spec.get("path"))
    validation = spec.get("validation", 5000)
    if not 0 < validation < len(images):
        raise DataError(f"fashion-mnist: validation {validation} is not in [1, {len(images) - 1}]")
    cut = len(images) - validation
    x = image_inputs(images, c["family"])
    test_images, test_labels = read_fashion_mnist("test", spec.get("path"))
    return DataSet(Split(x[:cut], labels[:cut]), Split(x[cut:], labels[cut:]),
                   Split(image_inputs(test_images, c["family"]), test_labels), images=True)


def text_files(entries):
    """The files of a text "files" list: a file as it is, a folder as its regular files in ordinal name order
    (not recursive, no symlinks, no fortune .dat indexes)."""
    files = []
    for entry in map(Path, entries):
        if entry.is_dir():
            files += sorted((p for p in entry.iterdir() if p.is_file() and not p.is_symlink() and p.suffix != ".dat"),
                            key=lambda p: p.name)
        elif entry.is_file():
            files.append(entry)
        else:
            hint = " (Debian's fortunes package installs /usr/share/games/fortunes)" if "fortunes" in str(entry) else ""
            raise DataError(f"{entry}: not found{hint}")
    return files


def text_windows(data, T):
    """floor((m - 1) / T) examples of a split of m bytes: x = bytes[iT, iT + T), y = bytes[iT + 1, iT + T + 1)."""
    n = max(0, (len(data) - 1) // T)
    return Split(data[:n * T].reshape(n, T), data[1:n * T + 1].reshape(n, T))


def load_text(spec, c, T):
    """The bytes of every file, concatenated; the last floor(L * validation_fraction) bytes are the validation split."""
    if c["family"] not in TEXT_FAMILIES:
        raise DataError(f"text data is for lstm, gru or transformer, not {c['family']}")
    if c["vocab"] < 256:
        raise DataError(f"text data holds byte ids 0..255, which need vocab >= 256, not {c['vocab']}")
    if not T:
        raise DataError("text data needs the workload's seq")
    raw = bytearray()
    for path in text_files(spec.get("files") or []):
        try:
            raw += path.read_bytes()
        except OSError as e:
            raise DataError(f"{path}: {e.strerror}") from None
    fraction = spec.get("validation_fraction", 0.05)
    valid = math.floor(len(raw) * fraction)
    if not raw:
        raise DataError(f"text data: no bytes in {spec.get('files')}")
    data = torch.frombuffer(raw, dtype=torch.uint8).long()
    return DataSet(text_windows(data[:len(raw) - valid], T), text_windows(data[len(raw) - valid:], T), None, images=False)


def load_data(w):
    """The DataSet of workload `w`'s "data", read from the files now (the time-to-target clock counts this)."""
    spec, c = w["data"], w["model"]
    if spec.get("dataset") == "fashion-mnist":
        return load_fashion_mnist(spec, c)
    if spec.get("dataset") == "text":
        return load_text(spec, c, w.get("seq"))
    raise DataError(f"unknown dataset {spec.get('dataset')!r} (fashion-mnist or text)")


# ---------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model, split, B, images):
    """(mean cross-entropy, accuracy) of `split` in order, in batches of B, in eval mode. Images: the last batch is
    padded with copies of the split's first examples and only real examples count; text: only full batches count,
    every token a row. Accuracy is the share of rows whose first largest logit is the target."""
    n = len(split)
    batches = -(-n // B) if images else n // B
    if batches == 0:
        raise DataError(f"an evaluation split of {n} examples holds no batch of {B}")
    was_training = model.training
    model.eval()
    order = torch.arange(batches * B, device=split.x.device) % n
    loss_sum = torch.zeros((), dtype=torch.float64, device=split.x.device)
    correct = torch.zeros((), dtype=torch.int64, device=split.x.device)
    for k in range(batches):
        idx = order[k * B:(k + 1) * B]
        real = min(B, n - k * B)
        logits = model(split.x[idx])[:real]
        logits, y = logits.reshape(-1, logits.shape[-1]), split.y[idx][:real].reshape(-1)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
        correct += (logits.argmax(-1) == y).sum()
    model.train(was_training)
    rows = (n if images else batches * B) * (split.y[0].numel())
    return loss_sum.item() / rows, correct.item() / rows


# ---------------------------------------------------------------- models
def golden_model(c):
    """tools/torch_golden.py's model for config `c` (every family and block), with PyTorch's default init from torch's
    current seed and F.dropout's own masks: the recipe's statistics, at PyTorch's speed."""
    family = c.get("family")
    if family not in FAMILIES:
        raise ValueError(f"family {family!r} is not among tools/torch_golden.py's models ({', '.join(FAMILIES)})")
    model = FAMILIES[family](c)
    model.exact_masks = False
    return model