"""The decoder seam: every frame and every audio sample the suite reads comes through here.

decord is the backend (its own bundled FFmpeg, no system package). Readers are created lazily
in the process that uses them and cached per process id, because a decord reader that exists
before a DataLoader forks its workers can deadlock them. Audio is placed on the video's time
axis by sample index (sample ``i`` is at ``i / sample_rate`` seconds); AAC priming is removed by
the decoder, so a click written at frame ``k`` decodes at ``k / fps`` seconds.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

_CACHE_SIZE = {"video": 16, "audio": 256}
_readers: OrderedDict = OrderedDict()
_readers_pid: int | None = None


class DecodeError(RuntimeError):
    """A file that cannot be decoded; the message names the file and the reason."""


@dataclass
class MediaInfo:
    path: str
    duration: float
    fps: float
    n_frames: int
    width: int
    height: int
    has_audio: bool
    sample_rate: int
    channels: int


def _cached(key: tuple, make):
    global _readers_pid
    if _readers_pid != os.getpid():
        _readers.clear()
        _readers_pid = os.getpid()
    if key in _readers:
        _readers.move_to_end(key)
        return _readers[key]
    reader = make()
    _readers[key] = reader
    same_kind = [k for k in _readers if k[0] == key[0]]
    for old in same_kind[: max(0, len(same_kind) - _CACHE_SIZE[key[0]])]:
        del _readers[old]
    return reader


def video_reader(path: str | Path, size: int | None = None):
    """A cached decord ``VideoReader``; frames resized to ``size`` x ``size`` when given."""
    import decord

    def make():
        try:
            if size:
                return decord.VideoReader(str(path), width=size, height=size, num_threads=1)
            return decord.VideoReader(str(path), num_threads=1)
        except Exception as e:  # decord raises its own DECORDError with a long FFmpeg message
            raise DecodeError(f"{path}: cannot decode video ({str(e).splitlines()[0][:200]})") from None

    return _cached(("video", str(path), size), make)


def audio_track(path: str | Path, sample_rate: int) -> np.ndarray:
    """The whole audio track, mono, resampled, as float32 ``[n]`` (cached per process)."""
    import decord

    def make():
        try:
            reader = decord.AudioReader(str(path), sample_rate=sample_rate, mono=True)
            return reader[:].asnumpy()[0].astype(np.float32)
        except Exception as e:
            raise DecodeError(f"{path}: cannot decode audio ({str(e).splitlines()[0][:200]})") from None

    return _cached(("audio", str(path), sample_rate), make)


def read_frames(path: str | Path, times_s, size: int | None = None) -> torch.Tensor:
    """Frames nearest to each time in ``times_s`` as uint8 ``[T, H, W, 3]``."""
    vr = video_reader(path, size)
    fps = vr.get_avg_fps() or 1.0
    idx = np.clip(np.floor(np.asarray(times_s, dtype=np.float64) * fps + 1e-6).astype(np.int64), 0, len(vr) - 1)
    try:
        return torch.from_numpy(vr.get_batch(idx.tolist()).asnumpy())
    except Exception as e:
        raise DecodeError(f"{path}: cannot decode frames {idx.tolist()} ({str(e).splitlines()[0][:200]})") from None


def read_audio(path: str | Path, start_s: float, duration_s: float, sample_rate: int) -> torch.Tensor:
    """Mono audio from ``start_s`` for ``duration_s`` seconds, zero-padded past either end."""
    track = audio_track(path, sample_rate)
    n = int(round(duration_s * sample_rate))
    start = int(round(start_s * sample_rate))
    out = np.zeros(n, dtype=np.float32)
    lo, hi = max(start, 0), min(start + n, len(track))
    if hi > lo:
        out[lo - start : hi - start] = track[lo:hi]
    return torch.from_numpy(out)


def probe(path: str | Path) -> MediaInfo:
    """Container metadata read with PyAV, without decoding; raises DecodeError naming the file."""
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise DecodeError(f"{path}: no video stream")
            v = c.streams.video[0]
            fps = float(v.average_rate or v.guessed_rate or 0.0)
            duration = float(c.duration / 1e6) if c.duration else (
                float(v.duration * v.time_base) if v.duration else 0.0)
            n_frames = int(v.frames) or int(round(duration * fps))
            a = c.streams.audio[0] if c.streams.audio else None
            return MediaInfo(str(path), duration, fps, n_frames, v.codec_context.width,
                             v.codec_context.height, a is not None,
                             int(a.codec_context.sample_rate) if a else 0,
                             int(a.codec_context.channels) if a else 0)
    except DecodeError:
        raise
    except Exception as e:
        raise DecodeError(f"{path}: not a readable video ({type(e).__name__}: {str(e)[:160]})") from None
