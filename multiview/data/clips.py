"""Clips of aligned frames and sound from an indexed folder of videos (see :mod:`.index`).

A sample is ``T`` frames at a chosen rate and size and the mono, resampled audio window centred
on them: ``{"frame": float [3, H, W] in [0, 1]`` (``"frames": [T, 3, H, W]`` when ``T > 1``),
``"audio": float [n], "label": int (-1 if none), "caption": str ("" if none), "index": int,
"time": float}`` (``time``: the clip's centre, seconds). Frame ``k`` of a video is shown from
``k / fps`` to ``(k + 1) / fps``; the audio window is centred on the middle of the frames'
display span, so sound and picture line up to the sample.

Clip positions are drawn from ``(seed, epoch, index)``: the same epoch gives the same clips for
any worker count, rank count or resume. Decoders are opened lazily in the worker that uses them
(:mod:`multiview.data.decode`; ``MULTIVIEW_DECODER=decord`` picks the other backend, workers
inherit the environment). Workers are spawned, not forked: a process that has decoded with
decord can deadlock the children it forks. A file that fails to decode is flagged in shared
memory, skipped for a deterministic replacement, and counted (:meth:`ClipDataset.failed_files`);
training goes on.

With ``cache_dir`` set, each video is decoded once, whole (every frame at ``frame_size`` and the
mono track at ``sample_rate``, :mod:`multiview.data.cache`), and later epochs cut clips from the
stored tensors; an entry whose source file changed (size or mtime) is decoded again. Meant for
short clips reused for many epochs, when decoding is the bottleneck.
"""

from __future__ import annotations

import os
import warnings
import zlib

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from multiview.data import cache, decode
from multiview.data.loader import worker_ignores_sigterm
from multiview.errors import UserError

FAILED, SILENCED = 1, 2
POSITIONS = ("random", "uniform")
NO_AUDIO = ("skip", "silence")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


class ClipDataset(Dataset):
    """``clips_per_video`` clips of each indexed video; index ``e * len + i`` is clip ``i`` of epoch ``e``."""

    def __init__(self, records: list[dict], frames: int = 1, fps: float | None = None,
                 frame_size: int = 64, sample_rate: int = 16000, audio_seconds: float = 1.0,
                 clips_per_video: int = 1, positions: str = "random", no_audio: str = "skip",
                 seed: int = 0, label_names: list[str] | None = None, cache_dir: str | None = None):
        if frames < 1 or frame_size < 1 or sample_rate < 1 or clips_per_video < 1 or audio_seconds <= 0:
            raise UserError("frames, frame_size, sample_rate, clips_per_video and audio_seconds must be positive")
        if fps is not None and fps <= 0:
            raise UserError(f"fps: expected a positive frame rate or None (the video's own), got {fps}")
        self.positions = _choice("positions", positions, POSITIONS)
        self.no_audio = _choice("no_audio", no_audio, NO_AUDIO)
        self.excluded = [r for r in records if no_audio == "skip" and not r.get("audio_ok")]
        self.records = [r for r in records if no_audio == "silence" or r.get("audio_ok")]
        self.frames, self.fps, self.frame_size = frames, fps, frame_size
        self.sample_rate, self.audio_seconds = sample_rate, audio_seconds
        self.clips_per_video, self.seed = clips_per_video, seed
        self.label_names = label_names if label_names is not None else sorted(
            {r["label"] for r in self.records if r.get("label") is not None})
        self.label_ids = {name: k for k, name in enumerate(self.label_names)}
        # One byte per video, shared by every DataLoader worker: FAILED or SILENCED.
        self.flags = torch.zeros(max(1, len(self.records)), dtype=torch.uint8).share_memory_()
        self.cache = None if cache_dir is None else {
            kind: cache.DecodeCache(kind, root=os.path.join(cache_dir, kind)) for kind in ("frames", "audio")}

    def __len__(self) -> int:
        return len(self.records) * self.clips_per_video

    def failed_files(self) -> list[str]:
        return [r["path"] for r, f in zip(self.records, self.flags.tolist()) if f == FAILED]

    def silenced_files(self) -> list[str]:
        return [r["path"] for r, f in zip(self.records, self.flags.tolist()) if f == SILENCED]

    def frame_indices(self, i: int) -> tuple[np.ndarray, float]:
        """Source frame numbers of sample ``i`` (epoch included) and the clip's centre in seconds."""
        epoch, i = divmod(i, len(self))
        r = self.records[i // self.clips_per_video]
        src_fps, n_src = float(r["fps"]), int(r["frames"])
        step = src_fps / self.fps if self.fps else 1.0
        span = (self.frames - 1) * step + 1  # source frames the clip covers
        need = max(span, self.audio_seconds * src_fps)
        lo, hi = need / 2, max(need / 2, n_src - need / 2)
        if self.positions == "random":
            centre = lo + float(np.random.default_rng([self.seed, epoch, i]).uniform(0, hi - lo))
        else:
            k = i % self.clips_per_video
            centre = lo + (hi - lo) * (k + 0.5) / self.clips_per_video
        first = centre - span / 2
        idx = np.floor(first + np.arange(self.frames) * step + 1e-6).astype(np.int64)
        idx = np.clip(idx, 0, n_src - 1)
        return idx, (idx[0] + idx[-1] + 1) / 2 / src_fps

    def load(self, i: int) -> dict:
        clip = (i % len(self)) // self.clips_per_video
        r = self.records[clip]
        idx, centre = self.frame_indices(i)
        times = (idx + 0.5) / float(r["fps"])  # the middle of each frame's display interval
        if self.cache is None:
            frames = decode.read_frames(r["path"], times.tolist(), self.frame_size)
        else:
            frames = cache.resized_frames(r["path"], self.frame_size, self.cache["frames"])
            frames = frames[torch.from_numpy(np.clip(idx, 0, len(frames) - 1))]
        frames = frames.permute(0, 3, 1, 2).float().div_(255.0)
        n = int(round(self.audio_seconds * self.sample_rate))
        if r.get("audio_ok"):
            try:
                audio = self._audio(r["path"], centre - self.audio_seconds / 2, n)
            except decode.DecodeError:
                if self.no_audio == "skip":
                    raise
                self.flags[clip] = SILENCED
                audio = torch.zeros(n)
        else:
            audio = torch.zeros(n)
        label = r.get("label")
        sample = {"audio": audio, "label": self.label_ids.get(label, -1) if label is not None else -1,
                  "caption": r.get("caption") or "", "index": i % len(self), "time": float(centre)}
        if self.frames == 1:
            sample["frame"] = frames[0]
        else:
            sample["frames"] = frames
        return sample

    def _audio(self, path: str, start_s: float, n: int) -> torch.Tensor:
        if self.cache is None:
            return decode.read_audio(path, start_s, self.audio_seconds, self.sample_rate)
        track = cache.audio_track(path, self.sample_rate, self.cache["audio"])
        return decode.window(track, 0, int(round(start_s * self.sample_rate)), n)

    def __getitem__(self, i: int) -> dict:
        epoch, i = divmod(int(i), len(self))
        for attempt in range(len(self)):
            j = (i + attempt * self.clips_per_video) % len(self)
            clip = j // self.clips_per_video
            if self.flags[clip] == FAILED:
                continue
            try:
                return self.load(epoch * len(self) + j)
            except (decode.DecodeError, RuntimeError, OSError, ValueError) as e:
                self.flags[clip] = FAILED
                warnings.warn(f"skipping {self.records[clip]['path']}: {str(e)[:300]}", stacklevel=2)
        raise UserError(f"none of the {len(self.records)} indexed videos could be decoded")


class ClipSampler(DistributedSampler):
    """A seeded per-epoch order, split across ranks; yields ``epoch * n + i`` so clips depend on the epoch.

    It is a ``DistributedSampler``, so Lightning's DDP uses it as is (no second split) and calls
    ``set_epoch``; outside a process group it covers the whole dataset on one rank.
    """

    def __init__(self, n: int, shuffle: bool = True, seed: int = 0, num_replicas: int | None = None,
                 rank: int | None = None, drop_last: bool = False):
        running = dist.is_available() and dist.is_initialized()
        if num_replicas is None:
            num_replicas = dist.get_world_size() if running else 1
        if rank is None:
            rank = dist.get_rank() if running else 0
        super().__init__(range(n), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)

    def __iter__(self):
        n = len(self.dataset)
        return iter([self.epoch * n + i for i in super().__iter__()])


def split_records(records: list[dict], val_fraction: float) -> tuple[list[dict], list[dict]]:
    """Hold out videos by a hash of their relative path: stable when the folder grows."""
    if not 0 <= val_fraction < 1:
        raise UserError(f"val_fraction: expected a number in [0, 1), got {val_fraction}")
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
    import hashlib
    from pathlib import Path

    from multiview.data.index import build_index
    from multiview.paths import cache_dir

    path = Path(index).expanduser()
    if not index or not path.exists():
        raise UserError(f"data.index: expected an index file or a folder of videos, got {index!r}")
    if path.is_file():
        return str(path)
    root = path.resolve()
    out = cache_dir("video-index") / (hashlib.sha1(str(root).encode()).hexdigest()[:16] + ".jsonl")
    build_index(root, out, workers, quiet=True)
    return str(out)


class VideoFolderDataModule(L.LightningDataModule):
    """Clips from an index written by ``multiview data index`` (or a folder, indexed on first use).

    ``frames`` frames per clip at ``fps`` (None: the video's own rate), ``frame_size`` square;
    ``audio_seconds`` of mono audio at ``sample_rate`` centred on them. Training clips sit at
    ``positions`` ("random" or "uniform"); validation clips are uniform. ``no_audio``: "skip"
    videos without usable sound, or give them "silence". ``val_fraction`` of the videos (chosen
    by a hash of their path) are held out. ``cache_dir``: a folder where whole videos are kept
    decoded across epochs (see :class:`ClipDataset`); None decodes every clip afresh.
    """

    def __init__(self, index: str = "", frames: int = 1, fps: float | None = None, frame_size: int = 64,
                 sample_rate: int = 16000, audio_seconds: float = 1.0, clips_per_video: int = 4,
                 positions: str = "random", no_audio: str = "skip", val_fraction: float = 0.1,
                 batch_size: int = 64, num_workers: int = 2, seed: int = 0, cache_dir: str | None = None):
        super().__init__()
        self.index, self.num_workers, self.seed, self.batch_size = index, num_workers, seed, batch_size
        self.val_fraction, self.clips_per_video, self.positions = val_fraction, clips_per_video, positions
        self.common = dict(frames=frames, fps=fps, frame_size=frame_size, sample_rate=sample_rate,
                           audio_seconds=audio_seconds, no_audio=no_audio, seed=seed, cache_dir=cache_dir)
        _choice("data.positions", positions, POSITIONS)
        _choice("data.no_audio", no_audio, NO_AUDIO)
        self.train_set: ClipDataset | None = None
        self.val_set: ClipDataset | None = None
        self.label_names: list[str] = []

    def prepare_data(self) -> None:
        resolve_index(self.index, max(1, self.num_workers))

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        from multiview.data.index import load_index

        records = load_index(resolve_index(self.index, max(1, self.num_workers)))
        train, val = split_records(records, self.val_fraction)
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
        sampler = ClipSampler(len(dataset), shuffle=train, seed=self.seed, drop_last=False)
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
