"""Labelled image folders (CIFAR-10 from its JPEG tar, or any ``<class>/<file>`` folder).

A folder is laid out as ``train/<class>/*`` and ``test/<class>/*``, or flat as ``<class>/*`` (then
every fifth file of each class, in sorted order, is the test split). A ``.tar`` is extracted once
into the cache. Images are decoded once into a uint8 array cached beside the extraction
(``.npy``, no pickle), so epochs cost no JPEG decoding. Samples are dicts
``{"image": float [3, H, W] in [0, 1], "label": int, "index": int}``.
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from multiview.core import cache as cache_store
from multiview.core.errors import UserError
from multiview.data.loader import ResumableBatches
from multiview.data.media import READ_ERRORS, Skipped, reason
from multiview.data.splits import held_out_fifth

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def resolve_root(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if path.is_file() and tarfile.is_tarfile(path):
        return cache_store.extract_tar(path)
    if not path.is_dir():
        raise UserError(f"data.path: expected an image folder or a .tar of one, got {str(path)!r}")
    return path


def list_split(root: Path, split: str, classes: list[str] | None = None) -> tuple[list[Path], list[int], list[str]]:
    """Image paths, class ids and class names of ``split`` ("train" or "test").

    ``classes`` (the training split's) maps folders to ids by name, so a class missing from
    ``test/`` shifts no other label; a test class unknown to training is left out, with a note.
    """
    base = root / split if (root / split).is_dir() else root
    found_classes = sorted(d.name for d in base.iterdir() if d.is_dir() and d.name not in ("train", "test"))
    if classes is None:
        classes = found_classes
    unknown = sorted(set(found_classes) - set(classes))
    if unknown:
        print(f"{base}: classes {unknown} are not in the training split; their images are left out",
              file=sys.stderr)
    files, labels = [], []
    for c, name in enumerate(classes):
        if not (base / name).is_dir():
            continue
        found = sorted(p for p in (base / name).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if base == root:  # flat folder: deterministic 4:1 split
            found = [p for i, p in enumerate(found) if held_out_fifth(i, len(found)) == (split == "test")]
        files += found
        labels += [c] * len(found)
    if not files:
        raise UserError(f"{base}: no images found in <class>/<file> folders ({', '.join(IMAGE_EXTENSIONS)})")
    return files, labels, classes


def read_image(path: Path, size: int) -> np.ndarray:
    """uint8 ``[3, size, size]``; a corrupt, truncated, huge or unreadable file raises UserError."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            return np.asarray(img).transpose(2, 0, 1)
    except (Image.DecompressionBombError, *READ_ERRORS) as e:
        raise UserError(f"{path}: not a readable image ({reason(e)})") from None


def decode_split(root: Path, split: str, size: int,
                 classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All readable images of a split as uint8 ``[N, 3, size, size]`` (unreadable ones skipped and
    counted), cached as ``.npz`` under a key of every file's path, size and mtime."""
    files, labels, classes = list_split(root, split, classes)
    tree = cache_store.tree_key(files)
    key = cache_store.digest(tree, size, classes)
    entry = cache_store.folder("decoded-images") / f"{root.name}-{split}-{size}-{key}.npz"
    with cache_store.locked(entry):
        if not entry.is_file():
            skipped = Skipped(f"{root} ({split})")
            out, kept = np.empty((len(files), 3, size, size), np.uint8), []
            for i, f in enumerate(files):
                try:
                    out[len(kept)] = read_image(f, size)
                    kept.append(i)
                except UserError as e:
                    skipped.add(f, str(e))
            if cache_store.tree_key(files) != tree:  # e.g. a folder evicted or edited meanwhile: not a skip
                raise UserError(f"{root} ({split}): files vanished or changed while they were read; nothing cached")
            skipped.require_some(len(files))
            skipped.report(len(files))
            cache_store.write(entry, lambda tmp: _save_npz(tmp, images=out[: len(kept)],
                                                           kept=np.asarray(kept, np.int64)))
        cache_store.touch(entry)
        with np.load(entry, allow_pickle=False) as saved:
            images, kept = saved["images"], saved["kept"]
    return images, np.asarray(labels)[kept], classes


def _save_npz(path: Path, **arrays) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a path
        np.savez(f, **arrays)


class ImageArrayDataset(Dataset):
    """Decoded images as they are; augmentation is the method's, on the batch (:mod:`multiview.views`)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = torch.from_numpy(images), torch.from_numpy(labels).long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        i = i % len(self)  # EpochSampler tags indices with the epoch
        return {"image": self.images[i].float() / 255.0, "label": self.labels[i], "index": i}


class ImageFolderData(ResumableBatches, L.LightningDataModule):
    """Train/test image splits of plain images (views are made on the batch by the method).

    Args:
        path: an image folder or a .tar of one.
        size: side of the square images, in pixels.
        batch_size: images per batch.
        num_workers: DataLoader worker processes.
        train_limit: a class-balanced subset of this many training images (None: all).
        test_limit: a class-balanced subset of this many test images (None: all).
        seed: seed of the subsets and of the training order.
    """

    def __init__(self, path: str = "", size: int = 32, batch_size: int = 256, num_workers: int = 0,
                 train_limit: int | None = None, test_limit: int | None = None, seed: int = 0):
        super().__init__()
        self.path, self.size, self.batch_size, self.num_workers = path, size, batch_size, num_workers
        self.train_limit, self.test_limit, self.seed = train_limit, test_limit, seed
        self.classes: list[str] = []
        self.train_set = self.test_set = None

    def _subset(self, images, labels, limit):
        if not limit or limit >= len(labels):
            return images, labels
        order = np.random.default_rng(self.seed).permutation(len(labels))
        ranks = np.empty(len(labels), np.int64)
        for c in np.unique(labels):  # round-robin over classes keeps the subset balanced
            idx = order[labels[order] == c]
            ranks[idx] = np.arange(len(idx))
        keep = np.sort(np.lexsort((order.argsort(), ranks))[:limit])
        return images[keep], labels[keep]

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        root = resolve_root(self.path)
        train, train_y, self.classes = decode_split(root, "train", self.size)
        test, test_y, _ = decode_split(root, "test", self.size, self.classes)
        train, train_y = self._subset(train, train_y, self.train_limit)
        test, test_y = self._subset(test, test_y, self.test_limit)
        self.train_set = ImageArrayDataset(train, train_y)
        self.train_plain = self.train_set  # the training images in order, for probes and kNN
        self.test_set = ImageArrayDataset(test, test_y)

    def train_dataloader(self) -> DataLoader:
        return self.make_loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self.make_loader(self.test_set, train=False)

    def feature_loaders(self) -> tuple[DataLoader, DataLoader]:
        """Train and test loaders, in order, for probes and kNN."""
        return self.make_loader(self.train_plain, False), self.make_loader(self.test_set, False)
