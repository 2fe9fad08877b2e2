"""Labelled image folders (CIFAR-10 from its JPEG tar, or any ``<class>/<file>`` folder).

A folder is laid out as ``train/<class>/*`` and ``test/<class>/*``, or flat as ``<class>/*`` (then
every fifth file of each class, in sorted order, is the test split). A ``.tar`` is extracted once
into the cache. Images are decoded once into a uint8 array cached beside the extraction
(``.npy``, no pickle), so epochs cost no JPEG decoding. Samples are dicts
``{"image": float [3, H, W] in [0, 1], "label": int, "index": int}``.
"""

from __future__ import annotations

import fcntl
import hashlib
import tarfile
from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from multiview import paths
from multiview.data.loader import ResumableBatches
from multiview.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _key(path: Path) -> str:
    st = path.stat()
    return hashlib.sha1(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]


def extract_tar(tar_path: str | Path) -> Path:
    """Extract ``tar_path`` once into the cache (safe ``data`` filter) and return the folder."""
    tar_path = Path(tar_path)
    out = paths.cache_dir("extracted") / f"{tar_path.name.split('.')[0]}-{_key(tar_path)}"
    if (out / ".complete").exists():
        return out
    with open(str(out) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / ".complete").exists():
            try:
                with tarfile.open(tar_path) as tar:
                    tar.extractall(out, filter="data")
            except (tarfile.TarError, OSError) as e:
                raise UserError(f"{tar_path}: cannot extract ({e})") from None
            (out / ".complete").touch()
    return out


def resolve_root(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if path.is_file() and tarfile.is_tarfile(path):
        return extract_tar(path)
    if not path.is_dir():
        raise UserError(f"data.path: expected an image folder or a .tar of one, got {str(path)!r}")
    return path


def list_split(root: Path, split: str) -> tuple[list[Path], list[int], list[str]]:
    """Image paths, class ids and class names of ``split`` ("train" or "test")."""
    base = root / split if (root / split).is_dir() else root
    classes = sorted(d.name for d in base.iterdir() if d.is_dir() and d.name not in ("train", "test"))
    files, labels = [], []
    for c, name in enumerate(classes):
        found = sorted(p for p in (base / name).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if base == root:  # flat folder: deterministic 4:1 split
            found = [p for i, p in enumerate(found) if (i % 5 == 4) == (split == "test")]
        files += found
        labels += [c] * len(found)
    if not files:
        raise UserError(f"{base}: no images found in <class>/<file> folders ({', '.join(IMAGE_EXTENSIONS)})")
    return files, labels, classes


def decode_split(root: Path, split: str, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All images of a split as uint8 ``[N, 3, size, size]``, cached as ``.npy``."""
    files, labels, classes = list_split(root, split)
    digest = hashlib.sha1("\n".join(str(f) for f in files).encode()).hexdigest()[:10]
    cache = paths.cache_dir("decoded") / f"{root.name}-{split}-{size}-{digest}.npy"
    if cache.exists():
        return np.load(cache, allow_pickle=False), np.asarray(labels), classes
    out = np.empty((len(files), 3, size, size), np.uint8)
    for i, f in enumerate(files):
        try:
            img = Image.open(f).convert("RGB")
        except OSError as e:
            raise UserError(f"{f}: not a readable image ({e})") from None
        if img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR)
        out[i] = np.asarray(img).transpose(2, 0, 1)
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, out, allow_pickle=False)
    tmp.replace(cache)
    return out, np.asarray(labels), classes


class ImageArrayDataset(Dataset):
    """Decoded images with optional augmentation (random resized crop + horizontal flip)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, augment: bool = False,
                 crop_scale: tuple[float, float] = (0.2, 1.0), seed: int = 0):
        self.images, self.labels = torch.from_numpy(images), torch.from_numpy(labels).long()
        self.seed = seed
        size = images.shape[-1]
        self.transform = v2.Compose([v2.RandomResizedCrop(size, scale=crop_scale, antialias=True),
                                     v2.RandomHorizontalFlip()]) if augment else None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        epoch, i = divmod(i, len(self))  # EpochSampler tags indices with the epoch
        img = self.images[i]
        if self.transform is not None:
            with torch.random.fork_rng():
                torch.manual_seed(self.seed * 1_000_003 + epoch * len(self) + i)
                img = self.transform(img)
        return {"image": img.float() / 255.0, "label": self.labels[i], "index": i}


class ImageFolderData(ResumableBatches, L.LightningDataModule):
    """Train/test image splits; ``train_limit``/``test_limit`` take a class-balanced subset."""

    def __init__(self, path: str = "", size: int = 32, batch_size: int = 256, num_workers: int = 0,
                 augment: bool = True, train_limit: int | None = None, test_limit: int | None = None,
                 seed: int = 0):
        super().__init__()
        self.path, self.size, self.batch_size, self.num_workers = path, size, batch_size, num_workers
        self.augment, self.train_limit, self.test_limit, self.seed = augment, train_limit, test_limit, seed
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
        test, test_y, _ = decode_split(root, "test", self.size)
        train, train_y = self._subset(train, train_y, self.train_limit)
        test, test_y = self._subset(test, test_y, self.test_limit)
        self.train_set = ImageArrayDataset(train, train_y, augment=self.augment, seed=self.seed)
        self.train_plain = ImageArrayDataset(train, train_y, augment=False)
        self.test_set = ImageArrayDataset(test, test_y, augment=False)

    def train_dataloader(self) -> DataLoader:
        return self.make_loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self.make_loader(self.test_set, train=False)

    def feature_loaders(self) -> tuple[DataLoader, DataLoader]:
        """Un-augmented train and test loaders, in order, for probes and kNN."""
        return self.make_loader(self.train_plain, False), self.make_loader(self.test_set, False)
