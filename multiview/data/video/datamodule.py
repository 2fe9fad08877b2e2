"""One data module for video: clips of aligned frames and sound from a folder or an index.

``VideoFolderDataModule`` reads an index written by ``multiview data index`` (or indexes a folder
on first use, incrementally, into the cache), holds out videos by a hash of their path, and
serves :class:`~multiview.data.video.clips.ClipDataset` samples. Training batches are seeded per
``(seed, epoch, index)`` and resume mid-epoch (:class:`multiview.data.loader.ResumableBatches`).
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zlib
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from multiview.data.loader import ResumableBatches
from multiview.data.video.clips import NO_AUDIO, POSITIONS, ClipDataset, ClipSampler, _choice
from multiview.data.video.index import build_index, load_index
from multiview.core import cache as cache_store
from multiview.data.loader import worker_ignores_sigterm
from multiview.data.video.shard_stream import ShardSource
from multiview.core.errors import UserError
from multiview.core.paths import cache_dir


def split_records(records: list[dict], val_fraction: float,
                  val_clips: int | None = None) -> tuple[list[dict], list[dict]]:
    """Hold out ``val_fraction`` of the videos by a hash of their relative path (stable when the
    folder grows), or, when ``val_clips`` is given, exactly the last ``val_clips`` videos in path
    order (what a numbered corpus such as the synthetic one expects: its last clips held out).
    """
    if not 0 <= val_fraction < 1:
        raise UserError(f"val_fraction: expected a number in [0, 1), got {val_fraction}")
    if val_clips is not None and not 0 <= val_clips < len(records):
        raise UserError(f"data.val_clips: {len(records)} usable videos with sound; "
                        f"need more than data.val_clips={val_clips}")
    if val_clips is not None:
        order = sorted(range(len(records)), key=lambda k: records[k].get("relpath", records[k]["path"]), reverse=True)
        n_val = val_clips
    else:
        key = [zlib.crc32(str(r.get("relpath", os.path.basename(r["path"]))).encode()) for r in records]
        order = sorted(range(len(records)), key=lambda k: (key[k], records[k]["path"]))
        n_val = round(val_fraction * len(records))
        if val_fraction > 0 and len(records) > 1:
            n_val = max(1, n_val)
    val = sorted(order[:n_val])
    train = sorted(order[n_val:])
    return [records[k] for k in train], [records[k] for k in val]


def resolve_index(index: str, workers: int = 2) -> str:
    """An index file as given, or a folder of videos indexed (incrementally) into the cache."""
    path = Path(index).expanduser()
    if not index or not path.exists():
        raise UserError(f"data.index: expected an index file or a folder of videos, got {index!r}")
    if path.is_file():
        return str(path)
    root = path.resolve()
    out = cache_dir("video-index") / (hashlib.sha1(str(root).encode()).hexdigest()[:16] + ".jsonl")
    with cache_store.locked(out):  # two ranks index the folder once; files unchanged are reused
        build_index(root, out, workers, quiet=True)
    return str(out)


class VideoFolderDataModule(ShardSource, ResumableBatches, L.LightningDataModule):
    """Clips from an index written by ``multiview data index`` (or a folder, indexed on first use).

    ``frames`` frames per clip at ``fps`` (None: the video's own rate), ``frame_size`` square;
    ``audio_seconds`` of mono audio at ``sample_rate`` centred on them. Training clips sit at
    ``positions`` ("random" or "uniform"); validation clips are uniform. ``no_audio``: "skip"
    videos without usable sound, or give them "silence". ``val_fraction`` of the videos (chosen
    by a hash of their path) are held out, or exactly ``val_clips`` videos when that is set.
    ``cache_dir``: a folder where whole videos are kept decoded across epochs (see
    :class:`ClipDataset`); None decodes every clip afresh. ``shards``: a folder written by
    ``multiview data shard``, read instead of the index (:mod:`multiview.data.video.shard_stream`).
    """

    def __init__(self, index: str = "", frames: int = 1, fps: float | None = None, frame_size: int = 64,
                 sample_rate: int = 16000, audio_seconds: float = 1.0, clips_per_video: int = 4,
                 positions: str = "random", no_audio: str = "skip", val_fraction: float = 0.1,
                 val_clips: int | None = None, batch_size: int = 64, num_workers: int = 2, seed: int = 0,
                 cache_dir: str | None = None, shards: str = ""):
        super().__init__()
        self.shards = shards
        self.index, self.num_workers, self.seed, self.batch_size = index, num_workers, seed, batch_size
        self.val_clips = val_clips
        self.val_fraction, self.clips_per_video, self.positions = val_fraction, clips_per_video, positions
        self.common = dict(frames=frames, fps=fps, frame_size=frame_size, sample_rate=sample_rate,
                           audio_seconds=audio_seconds, no_audio=no_audio, seed=seed, cache_dir=cache_dir)
        _choice("data.positions", positions, POSITIONS)
        _choice("data.no_audio", no_audio, NO_AUDIO)
        self.train_set: ClipDataset | None = None
        self.val_set: ClipDataset | None = None
        self.label_names: list[str] = []

    def prepare_data(self) -> None:
        if not self.shards:
            resolve_index(self.index, max(1, self.num_workers))

    def setup(self, stage: str | None = None) -> None:
        if self.shards:
            return self.setup_shards()
        if self.train_set is not None:
            return
        records = load_index(resolve_index(self.index, max(1, self.num_workers)))
        train, val = split_records(records, self.val_fraction, self.val_clips)
        self.label_names = sorted({r["label"] for r in records if r.get("label") is not None})
        self.train_set = ClipDataset(train, clips_per_video=self.clips_per_video, positions=self.positions,
                                     label_names=self.label_names, **self.common)
        self.val_set = ClipDataset(val, clips_per_video=1, positions="uniform",
                                   label_names=self.label_names, **self.common)
        if len(self.train_set) < self.batch_size:
            raise UserError(f"data.index: {self.index} gives {len(self.train_set)} training clips "
                            f"({len(self.train_set.excluded)} videos without usable audio skipped); "
                            f"need at least data.batch_size={self.batch_size}")

    def _loader(self, dataset: ClipDataset, train: bool) -> DataLoader:
        if self.shards:
            return self.shard_loader(dataset, train)
        sampler = ClipSampler(len(dataset), shuffle=train, seed=self.seed, drop_last=False)
        if train:  # ResumableBatches records how far into the epoch training got, and resumes there
            self._train_sampler = sampler
            self._resume_sampler()
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, drop_last=train,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          pin_memory=torch.cuda.is_available(),
                          multiprocessing_context="spawn" if self.num_workers > 0 else None,
                          worker_init_fn=worker_ignores_sigterm if self.num_workers > 0 else None)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)

    def teardown(self, stage: str | None = None) -> None:
        for name, ds in (("train", self.train_set), ("val", self.val_set)):
            if ds is not None and ds.failed_files():
                warnings.warn(f"{name}: {len(ds.failed_files())} videos failed to decode and were "
                              f"skipped: {', '.join(ds.failed_files()[:5])}", stacklevel=2)
