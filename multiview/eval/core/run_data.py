"""``--data run``: labelled train / validation / test splits from a run's own data module.

The data module is the one the run trained on (built from ``RUN/config.yaml`` by
:func:`~multiview.eval.core.checkpoint.run_datamodule`, or the live ``trainer.datamodule`` in an
end-of-fit report), so the held-out samples are the run's held-out samples:

- **train / val**: the module's training samples, un-augmented (``feature_loaders()`` where it has
  one), a class-balanced subset of at most ``train_limit``, then a stratified ``val_fraction``;
- **test**: its held-out samples (``feature_loaders()``'s second loader, else ``val_set`` /
  ``test_set``), a class-balanced subset of at most ``test_limit``.

Clip data modules (video) give whole clips to validation and read labelled moments at uniform
positions (two per training clip, four per held-out clip), decoded once. Every split yields
``{"input": ..., "label": int}`` in the encoder's input format.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from multiview.core.errors import UserError
from multiview.eval.core.subsets import InMemory, Renamed, balanced, split_off

KEYS = {"frame": ("image", "frame"), "audio": ("audio",), "text": ("caption", "text")}


def labels_of(ds: Dataset) -> np.ndarray:
    """The int labels of a dataset, from its ``labels`` (or its base's) or by reading it."""
    for source in (ds, getattr(ds, "base", None)):
        labels = getattr(source, "labels", None)
        if labels is not None and len(labels) == len(ds):
            return np.asarray(labels.tolist() if torch.is_tensor(labels) else labels, dtype=np.int64)
    return np.array([int(ds[i]["label"]) for i in range(len(ds))], dtype=np.int64)


def input_key(ds: Dataset, modality: str) -> str:
    sample = ds[0]
    key = next((k for k in KEYS.get(modality, (modality,)) if k in sample), None)
    if key is None:
        raise UserError(f"--data run: the run's samples have {sorted(sample)}, none a {modality!r} input")
    return key


def labelled_sets(dm) -> tuple[Dataset, Dataset]:
    """``(training samples, held-out samples)`` of a data module, without augmentation."""
    if hasattr(dm, "feature_loaders"):
        train, test = dm.feature_loaders()
        return train.dataset, test.dataset
    test = getattr(dm, "val_set", None) or getattr(dm, "test_set", None)
    if getattr(dm, "train_set", None) is None or test is None:
        raise UserError(f"--data run: {type(dm).__name__} has no training and held-out sets")
    return dm.train_set, test


def run_splits(dm, modality: str, val_fraction: float = 0.2, seed: int = 0, train_limit: int | None = 5000,
               test_limit: int | None = 2000) -> tuple[Dataset, Dataset, Dataset, list[str]]:
    """``(train, val, test, class names)`` of the data module ``dm`` (set up) for ``modality``."""
    from multiview.data.video.clips import ClipDataset

    if isinstance(getattr(dm, "train_set", None), ClipDataset):
        return clip_splits(dm, modality, val_fraction, seed, test_limit)
    train, test = labelled_sets(dm)
    train_y, test_y = labels_of(train), labels_of(test)
    if not len(test_y) or min(train_y.min(), test_y.min()) < 0 or len(np.unique(train_y)) < 2:
        raise UserError(f"--data run: {type(dm).__name__} has no labelled samples of two or more classes; "
                        "pass --data PATH")
    key = input_key(train, modality)
    keep = balanced(train_y, train_limit, seed)
    tr, va = split_off(train_y[keep], val_fraction, seed)
    train_all = Renamed(train, key)
    names = list(getattr(dm, "classes", []) or []) or [str(c) for c in range(int(train_y.max()) + 1)]
    return (Subset(train_all, keep[tr].tolist()), Subset(train_all, keep[va].tolist()),
            Subset(Renamed(test, key), balanced(test_y, test_limit, seed).tolist()), names)


def clip_splits(dm, modality: str, val_fraction: float, seed: int,
                test_limit: int | None) -> tuple[Dataset, Dataset, Dataset, list[str]]:
    """Labelled moments of the run's own clips: training clips -> train/val, held-out clips -> test."""
    from multiview.data.video.clips import ClipDataset

    tr, te = dm.train_set, dm.val_set
    if min(tr.labels + te.labels, default=-1) < 0:
        raise UserError(f"--data run: {type(dm).__name__} has no labelled clips; pass --data PATH")
    common = dict(frame_size=tr.frame_size, sample_rate=tr.sample_rate, audio_seconds=tr.audio_seconds,
                  positions="uniform", label_names=tr.label_names, no_audio="silence")  # the run's videos, all

    def probed(records: list[dict]) -> list[dict]:  # a frame or caption probe never decodes the sound
        return records if modality == "audio" else [{**r, "audio_ok": False} for r in records]

    train = ClipDataset(probed(tr.records), clips_per_video=2, **common)
    test = ClipDataset(probed(te.records), clips_per_video=4, **common)
    tri, vai = split_off(np.array(tr.labels), val_fraction, seed)  # whole clips to val

    def expand(clips: np.ndarray) -> list[int]:
        return [2 * int(c) + k for c in clips for k in range(2)]

    key = {"frame": "frame", "audio": "audio", "text": "caption"}[modality]
    test_idx = balanced(np.repeat(np.array(te.labels), 4), test_limit, seed)
    names = getattr(dm, "label_names", []) or [str(i) for i in range(max(tr.labels) + 1)]
    return (InMemory(Subset(Renamed(train, key), expand(tri))), InMemory(Subset(Renamed(train, key), expand(vai))),
            InMemory(Subset(Renamed(test, key), test_idx.tolist())), names)
