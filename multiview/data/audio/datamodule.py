"""Audio folders as training data: FSDD, or any ``<class>/<file>`` folder of sounds.

The splits are :class:`~multiview.data.audio.audio_folder.AudioFolderDataset`'s (held-out
speakers where the names carry them, so a self-supervised run never hears the test voices).
Training batches are ``{"audio": float32 [B, n], "label", "index"}`` drawn by the resumable
sampler; methods that learn without labels ignore ``label``. The end-of-fit reports probe the
training split against the test split (:meth:`AudioFolderData.feature_loaders`).
"""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader, Dataset

from multiview.data.audio.audio_folder import AudioFolderDataset
from multiview.data.loader import ResumableBatches


class EpochIndexed(Dataset):
    """A dataset read with :class:`~multiview.data.loader.EpochSampler`'s ``epoch * n + i`` indices."""

    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        item = self.base[i % len(self.base)]
        return {"audio": item["audio"], "label": item["label"], "index": item["index"]}


class AudioFolderData(ResumableBatches, L.LightningDataModule):
    """Train / validation / test splits of an audio folder or ``.tar``, decoded once into memory.

    Args:
        path: folder or ``.tar`` (FSDD's ``recordings/<digit>_<speaker>_<take>.wav``, or
            ``<class>/<file>``).
        sample_rate: rate the clips are resampled to, Hz (the encoder's).
        seconds: every clip centre-cropped or zero-padded to this length.
        batch_size: clips per batch.
        num_workers: DataLoader worker processes.
        seed: seed of the training order.
    """

    def __init__(self, path: str = "", sample_rate: int = 16000, seconds: float = 1.0, batch_size: int = 128,
                 num_workers: int = 0, seed: int = 0):
        super().__init__()
        self.path, self.sample_rate, self.seconds = path, sample_rate, seconds
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.train_set = self.val_set = self.test_set = None
        self.classes: list[str] = []

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        parts = [AudioFolderDataset(self.path, split, self.sample_rate, self.seconds)
                 for split in ("train", "val", "test")]
        self.train_set, self.val_set, self.test_set = (EpochIndexed(p) for p in parts)
        self.classes = parts[0].classes

    def train_dataloader(self) -> DataLoader:
        return self.make_loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self.make_loader(self.val_set, train=False)

    def feature_loaders(self) -> tuple[DataLoader, DataLoader]:
        """Training and test clips, in order, for probes and kNN."""
        return self.make_loader(self.train_set, False), self.make_loader(self.test_set, False)
