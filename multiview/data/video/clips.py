"""Clips of aligned frames and sound from an indexed folder of videos (see :mod:`.index`).

A sample is ``T`` frames at a chosen rate and size and the mono, resampled audio window centred
on them: ``{"frame": float [3, H, W] in [0, 1]`` (``"frames": [T, 3, H, W]`` when ``T > 1``),
``"audio": float [n], "label": int (-1 if none), "caption": str ("" if none), "index": int,
"time": float}`` (``time``: the clip's centre, seconds). Frame ``k`` of a video is shown from
``k / fps`` to ``(k + 1) / fps``; the audio window is centred on the middle of the frames'
display span, so sound and picture line up to the sample.

What a clip is (frames, rate, size, sound) is a :class:`~multiview.data.video.spec.ClipSpec`.
Clip positions are drawn from ``(seed, epoch, index)``: the same epoch gives the same clips for
any worker count, rank count or resume (the indices come from
:class:`multiview.data.loader.EpochSampler`). Decoders are opened lazily in the worker that uses them
(:mod:`multiview.data.video.decode`; ``MULTIVIEW_DECODER=decord`` picks the other backend, workers
inherit the environment). Workers are spawned, not forked: a process that has decoded with
decord can deadlock the children it forks. A file that fails to decode is flagged in shared
memory, skipped for a deterministic replacement, and counted (:meth:`ClipDataset.failed_files`);
training goes on.

With ``cache_dir`` set, each video is decoded once, whole (every frame at ``frame_size`` and the
mono track at ``sample_rate``, :mod:`multiview.data.video.cache`), and later epochs cut clips from the
stored tensors; an entry whose source file changed (size or mtime) is decoded again. Meant for
short clips reused for many epochs, when decoding is the bottleneck.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import Dataset

from multiview.core.errors import UserError
from multiview.data.video import cache, decode
from multiview.data.video.spec import NO_AUDIO, ClipSpec  # noqa: F401 -- NO_AUDIO read from here by callers

FAILED, SILENCED = 1, 2
POSITIONS = ("random", "uniform")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


class ClipDataset(Dataset):
    """``clips_per_video`` clips of each indexed video; index ``e * len + i`` is clip ``i`` of epoch ``e``.

    Args:
        records: index records (:mod:`multiview.data.video.index`).
        spec: what a clip is (:class:`~multiview.data.video.spec.ClipSpec`).
        clips_per_video: clips of each video per epoch.
        positions: "random" (drawn from ``(seed, epoch, index)``) or "uniform" (evenly spaced).
        seed: seed of the random positions.
        label_names: label names in id order (default: the records' labels, sorted).
        cache_dir: keep whole videos decoded here across epochs (None: decode every clip afresh).
        **fields: fields of the spec given by name (``frame_size=32``), replacing the spec's.
    """

    def __init__(self, records: list[dict], spec: ClipSpec | None = None, clips_per_video: int = 1,
                 positions: str = "random", seed: int = 0, label_names: list[str] | None = None,
                 cache_dir: str | None = None, **fields):
        self.spec = spec = replace(spec if spec is not None else ClipSpec(), **fields)
        if clips_per_video < 1:
            raise UserError(f"data.clips_per_video: expected a positive integer, got {clips_per_video}")
        self.positions = _choice("positions", positions, POSITIONS)
        self.no_audio = spec.no_audio
        self.excluded = [r for r in records if spec.no_audio == "skip" and not r.get("audio_ok")]
        self.records = [r for r in records if spec.no_audio == "silence" or r.get("audio_ok")]
        self.frames, self.fps, self.frame_size = spec.frames, spec.fps, spec.frame_size
        self.sample_rate, self.audio_seconds = spec.sample_rate, spec.audio_seconds
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

    @property
    def labels(self) -> list[int]:
        """Each video's label id (-1 if none), in record order."""
        return [self.label_ids.get(r.get("label"), -1) for r in self.records]

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
        a = float(r.get("start") or 0) * src_fps  # a window that a published layout gives (.layouts)
        b = min(n_src, float(r["end"]) * src_fps) if r.get("end") else n_src
        lo, hi = a + need / 2, max(a + need / 2, b - need / 2)
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
