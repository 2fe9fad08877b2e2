"""The folder data module for video: clips of aligned frames and sound from a folder or an index.

``VideoFolderDataModule`` reads an index written by ``multiview data index`` (or indexes a folder
on first use, incrementally, into the cache), holds out videos by :mod:`multiview.data.splits`,
and serves :class:`~multiview.data.video.clips.ClipDataset` samples. Training batches are seeded
per ``(seed, epoch, index)`` and resume mid-epoch (:class:`multiview.data.loader.ResumableBatches`).
Shards cut from the same index are read by
:class:`multiview.data.video.shard_stream.ShardDataModule`, which holds out the same videos.
"""

from __future__ import annotations

import sys
import warnings

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader

from multiview.core.errors import UserError
from multiview.data.loader import ResumableBatches
from multiview.data.splits import check_held_out, split_records
from multiview.data.video.clips import POSITIONS, ClipDataset, _choice
from multiview.data.video.index import load_index, resolve_index
from multiview.data.video.layouts import find_layout, records_root
from multiview.data.video.spec import ClipSpec, documented


@documented
class VideoFolderDataModule(ResumableBatches, L.LightningDataModule):
    """Clips from an index written by ``multiview data index`` (or a folder, indexed on first use).

    Training clips sit at ``positions``; validation clips are one per video, from its middle.

    Args:
        index: an index file from ``multiview data index``, or a folder of videos.
        clips_per_video: training clips drawn from each video per epoch.
        positions: where training clips sit: "random" (drawn from (seed, epoch, index)) or "uniform".
        val_fraction: share of the videos held out, chosen by a hash of their path (per class
            where the videos are labelled).
        val_clips: hold out this many videos (the last in path order, per class where labelled)
            instead; at most half the folder, or 2 of a small one (more holds out a fifth, at least 2, with a note).
        batch_size: samples per batch.
        num_workers: DataLoader worker processes.
        seed: seed of the clip positions and of the training order.
        cache_dir: a folder where whole videos are kept decoded across epochs (None: decode every
            clip afresh).
        layout: a published split read from the folder's own CSVs ("auto": where one is there;
            msrvtt, vggsound, audioset; "none"), which replaces val_fraction and val_clips
            (:mod:`multiview.data.video.layouts`).
    """

    def __init__(self, index: str = "", frames: int = 1, fps: float | None = None, frame_size: int = 64,
                 sample_rate: int = 16000, audio_seconds: float = 1.0, clips_per_video: int = 4,
                 positions: str = "random", no_audio: str = "skip", val_fraction: float = 0.1,
                 val_clips: int | None = None, batch_size: int = 64, num_workers: int = 2, seed: int = 0,
                 cache_dir: str | None = None, layout: str = "auto"):
        super().__init__()
        self.spec = ClipSpec(frames=frames, fps=fps, frame_size=frame_size, sample_rate=sample_rate,
                             audio_seconds=audio_seconds, no_audio=no_audio)
        self.index, self.num_workers, self.seed, self.batch_size = index, num_workers, seed, batch_size
        self.val_fraction, self.val_clips = val_fraction, val_clips
        self.clips_per_video, self.positions = clips_per_video, _choice("data.positions", positions, POSITIONS)
        self.cache_dir, self.layout = cache_dir, layout
        self.train_set: ClipDataset | None = None
        self.val_set: ClipDataset | None = None
        self.label_names: list[str] = []

    def prepare_data(self) -> None:
        resolve_index(self.index, max(1, self.num_workers))

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        records = load_index(resolve_index(self.index, max(1, self.num_workers)))
        layout = find_layout(records_root(records) or self.index, self.layout)
        if layout is None:
            train, val = split_records(records, self.val_fraction, self.val_clips)
        else:
            train, val, self.layout_note = layout.split(records, self.index)
            rank_zero_only(print)(self.layout_note, file=sys.stderr)
        self.label_names = sorted({r["label"] for r in train + val if r.get("label") is not None})
        common = dict(seed=self.seed, label_names=self.label_names, cache_dir=self.cache_dir)
        self.train_set = ClipDataset(train, self.spec, clips_per_video=self.clips_per_video,
                                     positions=self.positions, **common)
        self.val_set = ClipDataset(val, self.spec, clips_per_video=1, positions="uniform", **common)
        if len(self.train_set) < self.batch_size:
            raise UserError(f"data.index: {self.index} gives {len(self.train_set)} training clips "
                            f"({len(self.train_set.excluded)} videos without usable audio skipped); "
                            f"need at least data.batch_size={self.batch_size}")
        if self.val_clips != 0 and (self.val_clips is not None or self.val_fraction > 0):
            check_held_out(len(self.val_set), f"held-out clips (of {len(records)} videos)", videos=len(records))

    def _loader(self, dataset: ClipDataset, train: bool) -> DataLoader:
        # workers are spawned: a process that has decoded with decord can deadlock the children it forks
        return self.make_loader(dataset, train, pin_memory=torch.cuda.is_available(),
                                multiprocessing_context="spawn" if self.num_workers > 0 else None)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)

    def teardown(self, stage: str | None = None) -> None:
        for name, ds in (("train", self.train_set), ("val", self.val_set)):
            if ds is not None and ds.failed_files():
                warnings.warn(f"{name}: {len(ds.failed_files())} videos failed to decode and were "
                              f"skipped: {', '.join(ds.failed_files()[:5])}", stacklevel=2)
