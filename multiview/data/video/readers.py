"""Video readers behind the decoder seam (:mod:`multiview.data.video.decode`): PyAV and decord.

Both give ``len(reader)`` frames at ``reader.get_avg_fps()`` and ``reader.frames_at(times)``:
the frame shown at each time (seconds from the video stream's start; frame ``k`` is shown from
``k / fps``), as uint8 ``[T, H, W, 3]`` at ``size`` x ``size`` or the native size. PyAV scales
with FFmpeg's area filter while converting to RGB; decord decodes at the native size and the
frames are resized with torch (decord's own resize fails for some sizes, e.g. 16, 24 and 48).
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F


def resize(frames: np.ndarray, size: int | None) -> np.ndarray:
    """Resize uint8 ``[T, H, W, 3]`` to ``size`` x ``size`` (antialiased bilinear), or pass through."""
    if not size or frames.shape[1:3] == (size, size):
        return frames
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


class ImplausibleHeader(ValueError):
    """A size declared in a file's header that the file cannot hold."""


class PyAVVideo:
    """A PyAV container kept open; each read seeks to the keyframe before the first time asked for."""

    def __init__(self, path: str):
        from multiview.data.media import max_seconds, open_av

        self.path = path
        self.container = open_av(path)
        if not self.container.streams.video:
            self.container.close()
            raise ValueError("no video stream")
        s = self.stream = self.container.streams.video[0]
        s.thread_type = "SLICE"  # no frame threads: one clip is a few frames, and workers are the parallelism
        s.thread_count = 1
        self.tb = float(s.time_base)
        self.start = s.start_time or 0
        self.fps = float(s.average_rate or s.guessed_rate or 0.0)
        n = int(s.frames or 0)
        if n <= 0:
            seconds = float(s.duration * s.time_base) if s.duration else (
                self.container.duration / 1e6 if self.container.duration else 0.0)
            n = int(round(seconds * self.fps))
        if n > os.path.getsize(path) or n > max_seconds(os.path.getsize(path)) * max(self.fps, 1.0):
            self.container.close()
            raise ImplausibleHeader(f"the container declares {n} frames, more than its "
                             f"{os.path.getsize(path)} bytes can hold")
        if n <= 0:
            n = self._count_packets()
        self.n_frames = n

    def _count_packets(self) -> int:
        n = sum(1 for p in self.container.demux(self.stream) if p.size and p.pts is not None)
        self.container.seek(0)
        return n

    def __len__(self) -> int:
        return self.n_frames

    def get_avg_fps(self) -> float:
        return self.fps

    def _time(self, frame) -> float | None:
        return None if frame.pts is None else (frame.pts - self.start) * self.tb

    def frames_at(self, times, size: int | None = None) -> np.ndarray:
        times = np.asarray(times, dtype=np.float64)
        order = np.argsort(times, kind="stable")
        out: list = [None] * len(times)
        first = max(float(times[order[0]]), 0.0)
        self.container.seek(self.start + int(first / self.tb), stream=self.stream, backward=True, any_frame=False)
        k, prev, t_prev = 0, None, -np.inf
        for frame in self.container.decode(self.stream):
            t = self._time(frame)
            t = t_prev + 1.0 / (self.fps or 1.0) if t is None else t
            while k < len(order) and t > times[order[k]] + 1e-6:
                out[order[k]] = prev if prev is not None else frame  # a time before the first frame: the first
                k += 1
            if k == len(order):
                break
            prev, t_prev = frame, t
        while k < len(order):  # past the last frame: the last one
            if prev is None:
                raise ValueError(f"no frame decoded at or after {first:.3f} s")
            out[order[k]] = prev
            k += 1
        kw = dict(width=size, height=size, interpolation="AREA") if size else {}
        converted: dict[int, np.ndarray] = {}
        for f in out:
            if id(f) not in converted:
                converted[id(f)] = f.to_ndarray(format="rgb24", **kw)
        return np.stack([converted[id(f)] for f in out])

    def close(self) -> None:
        self.container.close()


def utf8(path: str) -> bool:
    """Whether a file name is UTF-8 text (a name that is not reaches Python with surrogates, PEP 383)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class DecordVideo:
    """A decord ``VideoReader`` at the native size; frame ``floor(t * fps)`` for each time."""

    def __init__(self, path: str):
        import decord

        self.path = path
        if utf8(path):
            self.reader = decord.VideoReader(path, num_threads=1)
        else:  # decord takes UTF-8 text only: open the file by its descriptor's name instead
            fd = os.open(path, os.O_RDONLY)
            try:
                self.reader = decord.VideoReader(f"/proc/self/fd/{fd}", num_threads=1)
            finally:
                os.close(fd)
        self.fps = float(self.reader.get_avg_fps() or 0.0)

    def __len__(self) -> int:
        return len(self.reader)

    def get_avg_fps(self) -> float:
        return self.fps

    def frames_at(self, times, size: int | None = None) -> np.ndarray:
        fps = self.fps or 1.0
        idx = np.floor(np.asarray(times, dtype=np.float64) * fps + 1e-6).astype(np.int64)
        idx = np.clip(idx, 0, len(self.reader) - 1)
        return resize(self.reader.get_batch(idx.tolist()).asnumpy(), size)

    def close(self) -> None:
        self.reader = None
