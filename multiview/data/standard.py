"""Standard labelled data sets by their usual names, in their published layouts.

Images through torchvision's dataset classes, under a root folder in torchvision's layout
(``--data-root``, else ``$MULTIVIEW_DATA``, else ``$MULTIVIEW_HOME/data``; see
:func:`multiview.core.paths.data_dir`), downloaded there with ``download=True`` when they are missing
and the network allows:

* ``mnist`` (``ROOT/MNIST/raw/*-idx?-ubyte``; idx files, no pickle), ``stl10``
  (``ROOT/stl10_binary/*.bin``; raw bytes; its labelled train/test splits),
* ``cifar10`` / ``cifar100`` (``ROOT/cifar-10-batches-py``, ``ROOT/cifar-100-python``).
  torchvision unpickles CIFAR's official python batches; it checks each file's MD5 against the
  published one first, so only the official files are ever unpickled.

Audio in the published folder layouts, read with soundfile
(:func:`multiview.data.audio.audio_folder.read_any`):

* ``speechcommands``: ``ROOT/SpeechCommands/speech_commands_v0.02/<word>/<file>.wav`` with
  ``validation_list.txt`` and ``testing_list.txt`` (Warden 2018; torchaudio's layout), 1 s clips;
* ``esc50``: ``ROOT/ESC-50-master/audio/*.wav`` with ``meta/esc50.csv`` (Piczak 2015), 5 s
  clips; folds 1-3 train, 4 validation, 5 test.

Every split is a dataset of ``{"input": ..., "label": int}`` with ``.labels`` and ``.classes``:
images ``[3, size, size]`` in [0, 1] (MNIST's grey repeated to three channels), waveforms
``[n]`` mono at the requested rate.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch
import torchaudio.functional as AF
from torch.utils.data import Dataset

from multiview.core.errors import UserError

IMAGE_SETS = ("cifar10", "cifar100", "stl10", "mnist")
AUDIO_SETS = ("speechcommands", "esc50")
LAYOUT = {
    "cifar10": "ROOT/cifar-10-batches-py/", "cifar100": "ROOT/cifar-100-python/",
    "stl10": "ROOT/stl10_binary/", "mnist": "ROOT/MNIST/raw/train-images-idx3-ubyte ...",
    "speechcommands": "ROOT/SpeechCommands/speech_commands_v0.02/<word>/*.wav",
    "esc50": "ROOT/ESC-50-master/{audio/*.wav,meta/esc50.csv}",
}
ARCHIVES = {"speechcommands": ("http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
                               "SpeechCommands/speech_commands_v0.02"),
            "esc50": ("https://github.com/karoldvl/ESC-50/archive/master.zip", "")}


def unavailable(name: str, root: Path, error: Exception) -> UserError:
    return UserError(f"--data {name}: not found under {root} (expected {LAYOUT[name].replace('ROOT', str(root))}) "
                     f"and downloading it failed ({type(error).__name__}: {error}); put the files there, "
                     f"or point --data-root or MULTIVIEW_DATA at a folder that has them")


class TorchvisionImages(Dataset):
    """One split of a torchvision image data set as ``{"input": [3, size, size] in [0, 1], "label"}``."""

    def __init__(self, name: str, split: str, root: Path, size: int = 32):
        import torchvision.datasets as tvd

        if name not in IMAGE_SETS:
            raise UserError(f"--data {name}: expected one of {', '.join(IMAGE_SETS)}")
        cls = {"cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100, "stl10": tvd.STL10, "mnist": tvd.MNIST}[name]
        where = {"split": split} if name == "stl10" else {"train": split == "train"}
        root.mkdir(parents=True, exist_ok=True)
        try:
            self.base = cls(str(root), download=False, **where)
        except RuntimeError:  # missing or corrupt: fetch the official files
            try:
                self.base = cls(str(root), download=True, **where)
            except (OSError, RuntimeError, ValueError) as e:
                raise unavailable(name, root, e) from None
        labels = getattr(self.base, "targets", None)
        labels = self.base.labels if labels is None else labels
        self.labels = [int(y) for y in labels]
        self.classes = list(self.base.classes)
        self.size = size

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        import numpy as np
        import torch.nn.functional as F

        image, label = self.base[i]
        x = torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1).float() / 255.0
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x[None], size=(self.size, self.size), mode="bilinear", antialias=True,
                              align_corners=False)[0].clamp(0, 1)
        return {"input": x, "label": int(label)}


class AudioClips(Dataset):
    """Labelled audio files, decoded on access: mono at ``sample_rate``, centre-cropped or padded
    to ``seconds``, scaled to a peak of ``peak``."""

    def __init__(self, files: list[Path], labels: list[int], classes: list[str], sample_rate: int,
                 seconds: float, peak: float | None = 0.5):
        self.files, self.labels, self.classes = files, labels, classes
        self.sample_rate, self.n, self.peak = sample_rate, int(round(seconds * sample_rate)), peak

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict:
        from multiview.data.audio.audio_folder import fix_length, read_any

        x, rate = read_any(self.files[i])
        x = torch.from_numpy(x)
        if rate != self.sample_rate:
            x = AF.resample(x, rate, self.sample_rate)
        x = fix_length(x, self.n)
        if self.peak is not None:
            x = x * (self.peak / x.abs().max().clamp_min(1e-6))
        return {"input": x, "label": self.labels[i]}


def find_or_fetch(name: str, root: Path, candidates: list[Path]) -> Path:
    found = next((c for c in candidates if c.is_dir()), None)
    if found is not None:
        return found
    from torchvision.datasets.utils import download_and_extract_archive

    url, sub = ARCHIVES[name]
    try:
        download_and_extract_archive(url, str(root / "downloads"), str(root / sub))
    except (OSError, RuntimeError, ValueError) as e:
        raise unavailable(name, root, e) from None
    return next(c for c in candidates if c.is_dir())


def speech_commands(root: Path, sample_rate: int) -> dict[str, AudioClips]:
    base = find_or_fetch("speechcommands", root, [root / "SpeechCommands" / v for v in
                                                  ("speech_commands_v0.02", "speech_commands_v0.01")]
                         + [root / "speech_commands_v0.02", root / "speech_commands_v0.01"])
    listed = {}
    for split, name in (("val", "validation_list.txt"), ("test", "testing_list.txt")):
        if not (base / name).is_file():
            raise UserError(f"--data speechcommands: {base / name} is missing (the published split lists)")
        listed.update({line.strip(): split for line in (base / name).read_text().splitlines() if line.strip()})
    files = sorted(p for p in base.glob("*/*.wav") if not p.parent.name.startswith("_"))
    classes = sorted({p.parent.name for p in files})
    parts = {"train": [], "val": [], "test": []}
    for p in files:
        parts[listed.get(f"{p.parent.name}/{p.name}", "train")].append(p)
    return {s: AudioClips(fs, [classes.index(p.parent.name) for p in fs], classes, sample_rate, 1.0)
            for s, fs in parts.items()}


def esc50(root: Path, sample_rate: int) -> dict[str, AudioClips]:
    base = find_or_fetch("esc50", root, [root / "ESC-50-master", root / "ESC-50"])
    meta = base / "meta" / "esc50.csv"
    try:
        rows = list(csv.DictReader(meta.open(newline="")))
        items = [(base / "audio" / r["filename"], int(r["fold"]), int(r["target"]), r["category"]) for r in rows]
    except (OSError, KeyError, ValueError) as e:
        raise UserError(f"--data esc50: {meta}: expected the published CSV "
                        f"(filename, fold, target, category; {e})") from None
    names = dict(sorted({(t, c) for _, _, t, c in items}))
    classes = [names.get(t, str(t)) for t in range(max(names) + 1)]
    fold_of = {"train": (1, 2, 3), "val": (4,), "test": (5,)}
    return {s: AudioClips([f for f, k, _, _ in items if k in folds], [t for _, k, t, _ in items if k in folds],
                          classes, sample_rate, 5.0) for s, folds in fold_of.items()}


def load(name: str, root: Path, size: int = 32, sample_rate: int = 16000) -> dict[str, Dataset | None]:
    """``{"train", "val" (None where the set has no validation split), "test"}`` of ``name``."""
    if name in IMAGE_SETS:
        return {"train": TorchvisionImages(name, "train", root, size), "val": None,
                "test": TorchvisionImages(name, "test", root, size)}
    if name == "speechcommands":
        return speech_commands(root, sample_rate)
    if name == "esc50":
        return esc50(root, sample_rate)
    raise UserError(f"--data {name}: expected one of {', '.join(IMAGE_SETS + AUDIO_SETS)}")
