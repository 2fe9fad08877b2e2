"""Aligned (frame, sound) samples from a folder of videos, and the embedded default corpus.

A sample is one moment ``t`` of one clip: the frame shown at ``t`` and the audio window centred
on that frame, as a dict ``{"frame": float [3, H, W] in [0, 1], "audio": float [n] mono
waveform, "label": int (-1 if none), "caption": str, "index": int, "time": float}``. Spectrograms
are computed on the batch by the audio encoder, where a GPU can do it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from multiview.data import annotations, decode
from multiview.data.index import VIDEO_EXTENSIONS
from multiview.data.loader import ResumableBatches
from multiview.data.synthetic import WorldConfig, generate
from multiview.errors import UserError

__all__ = ["VIDEO_EXTENSIONS", "read_tsv", "AVClipDataset", "AVFolder", "SyntheticAV"]


def read_tsv(path: Path) -> dict[str, str]:
    """``file -> label`` (or caption) from a TSV beside the videos (see :mod:`.annotations`)."""
    path = Path(path)
    entries, _ = annotations.read_tsv(path)
    return {os.path.relpath(k, path.parent): e.get("label", e.get("caption", "")) for k, e in entries.items()}


class AVClipDataset(Dataset):
    """``samples_per_clip`` moments of each clip: random ones (train) or evenly spaced (eval)."""

    def __init__(self, files: list[str], durations: list[float], labels: list[int],
                 captions: list[str], frame_size: int = 64, sample_rate: int = 16000,
                 audio_seconds: float = 1.0, samples_per_clip: int = 1, train: bool = True,
                 seed: int = 0):
        self.files, self.durations, self.labels, self.captions = files, durations, labels, captions
        self.frame_size, self.sample_rate, self.audio_seconds = frame_size, sample_rate, audio_seconds
        self.samples_per_clip, self.train, self.seed = samples_per_clip, train, seed
        self.skipped: set[str] = set()

    def __len__(self) -> int:
        return len(self.files) * self.samples_per_clip

    def time_of(self, i: int) -> float:
        """Sample ``i`` of epoch ``e`` arrives as ``e * len(self) + i`` (see :class:`EpochSampler`)."""
        epoch, i = divmod(i, len(self))
        clip, k = divmod(i, self.samples_per_clip)
        span = max(self.durations[clip] - self.audio_seconds, 0.0)
        lo = min(self.audio_seconds / 2, self.durations[clip] / 2)
        if self.train:
            rng = np.random.default_rng([self.seed, epoch, i])
            return lo + float(rng.uniform(0, span))
        return lo + span * (k + 0.5) / self.samples_per_clip

    def __getitem__(self, i: int) -> dict:
        epoch, i = divmod(i, len(self))
        for attempt in range(len(self)):
            j = (i + attempt) % len(self)
            path = self.files[j // self.samples_per_clip]
            try:
                return self.load(epoch * len(self) + j)
            except decode.DecodeError as e:
                if path not in self.skipped:
                    self.skipped.add(path)
                    warnings.warn(f"skipping {e}", stacklevel=2)
        raise UserError("no clip in the dataset could be decoded")

    def load(self, i: int) -> dict:
        t = self.time_of(i)
        i = i % len(self)
        clip = i // self.samples_per_clip
        path = self.files[clip]
        frame = decode.read_frames(path, [t], self.frame_size)[0]
        fps = decode.video_reader(path, self.frame_size).get_avg_fps() or 1.0
        centre = (np.floor(t * fps + 1e-6) + 0.5) / fps
        audio = decode.read_audio(path, centre - self.audio_seconds / 2, self.audio_seconds, self.sample_rate)
        return {"frame": frame.permute(2, 0, 1).float() / 255.0, "audio": audio,
                "label": self.labels[clip], "caption": self.captions[clip], "index": i, "time": t}


class AVFolder(ResumableBatches, L.LightningDataModule):
    """Every video under ``folder`` (recursively), with ``labels.tsv`` / ``captions.tsv`` if present.

    The last ``val_clips`` files (sorted by path) are held out for evaluation.
    """

    def __init__(self, folder: str = "", val_clips: int = 64, frame_size: int = 64,
                 sample_rate: int = 16000, audio_seconds: float = 1.0, samples_per_clip: int = 4,
                 batch_size: int = 64, num_workers: int = 2, seed: int = 0):
        super().__init__()
        self.folder = folder
        self.val_clips, self.frame_size, self.sample_rate = val_clips, frame_size, sample_rate
        self.audio_seconds, self.samples_per_clip = audio_seconds, samples_per_clip
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.train_set = self.val_set = None
        self.label_names: list[str] = []

    def resolve_folder(self) -> Path:
        folder = Path(self.folder).expanduser()
        if not self.folder or not folder.is_dir():
            raise UserError(f"data.folder: expected a folder of videos, got {self.folder!r}")
        return folder

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        folder = self.resolve_folder()
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
        labels = read_tsv(folder / "labels.tsv") if (folder / "labels.tsv").exists() else {}
        captions = read_tsv(folder / "captions.tsv") if (folder / "captions.tsv").exists() else {}
        kept, durations = [], []
        for p in files:
            try:
                info = decode.probe(p)
            except decode.DecodeError as e:
                warnings.warn(f"skipping {e}", stacklevel=2)
                continue
            if info.has_audio and info.duration > 0:
                kept.append(p)
                durations.append(info.duration)
        if len(kept) <= self.val_clips:
            raise UserError(f"data.folder: {folder} has {len(kept)} usable videos with sound; "
                            f"need more than data.val_clips={self.val_clips}")
        rel = [str(p.relative_to(folder)) for p in kept]
        self.label_names = sorted({labels[r] for r in rel if r in labels})
        label_ids = [self.label_names.index(labels[r]) if r in labels else -1 for r in rel]
        caps = [captions.get(r, "") for r in rel]
        n_train = len(kept) - self.val_clips
        common = dict(frame_size=self.frame_size, sample_rate=self.sample_rate,
                      audio_seconds=self.audio_seconds, seed=self.seed)
        self.train_set = AVClipDataset([str(p) for p in kept[:n_train]], durations[:n_train],
                                       label_ids[:n_train], caps[:n_train],
                                       samples_per_clip=self.samples_per_clip, train=True, **common)
        self.val_set = AVClipDataset([str(p) for p in kept[n_train:]], durations[n_train:],
                                     label_ids[n_train:], caps[n_train:],
                                     samples_per_clip=1, train=False, **common)

    def train_dataloader(self) -> DataLoader:
        return self.make_loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self.make_loader(self.val_set, train=False)


class SyntheticAV(AVFolder):
    """The embedded default: the synthetic audio-visual world, generated on first use."""

    def __init__(self, n_clips: int = 384, world_seed: int = 0, duration: float = 3.0,
                 val_clips: int = 64, frame_size: int = 64, sample_rate: int = 16000,
                 audio_seconds: float = 1.0, samples_per_clip: int = 4, batch_size: int = 64,
                 num_workers: int = 2, seed: int = 0):
        super().__init__("", val_clips, frame_size, sample_rate, audio_seconds, samples_per_clip,
                         batch_size, num_workers, seed)
        self.world = WorldConfig(n_clips=n_clips, seed=world_seed, duration=duration,
                                 size=frame_size, sample_rate=sample_rate)

    def prepare_data(self) -> None:
        generate(self.world)

    def resolve_folder(self) -> Path:
        return generate(self.world)
