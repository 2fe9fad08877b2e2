"""The decoder seam: every frame and every audio sample the suite reads comes through here.

Frames come from one of two backends (:mod:`multiview.data.video.readers`): ``"pyav"`` (the default,
chosen by ``benchmarks/decoder_backends.py``: it keeps memory flat over thousands of files and
is safe after a fork) or ``"decord"``. Pick one with ``MULTIVIEW_DECODER=decord`` or
:func:`set_backend`. A file the chosen backend cannot open is read with the other one.

Audio is always read with PyAV, and only the window asked for: the decoder seeks to just before
it and stops just after, so a clip never decodes a whole track. Samples are placed on the video
stream's time axis by their timestamps (sample ``i`` of the result is at ``start_s + i /
sample_rate``), so sound lines up with frames even where AAC priming or a late audio stream
shifts the first sample; channels are averaged to mono and resampled with a windowed sinc.

Readers are opened lazily in the process that uses them, kept in a small per-process LRU cache
keyed on (path, size, mtime), so a file rewritten in place is opened afresh. The cache holds at
most ``CACHE_SIZE`` readers: an open 720p/1080p decoder holds tens of MB of reference frames, and
shuffled clips rarely hit a reader again; an evicted reader is closed and freed memory is handed
back to the system. A process that finds readers made by its parent (a forked DataLoader worker)
sets them aside untouched.

Resampling runs on inputs of a fixed length per (rate, window) (:func:`_resample`): oneDNN keeps
one compiled convolution per input shape (up to 1,024 of them, about 0.4 MB each), so windows
whose length varied by a few samples made memory grow for thousands of clips.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import torch

from multiview.data.media import max_seconds, open_av
from multiview.data.video.readers import DecordVideo, ImplausibleHeader, PyAVVideo

BACKENDS = {"pyav": PyAVVideo, "decord": DecordVideo}
DEFAULT_BACKEND = "pyav"
CACHE_SIZE = 1  # open video readers per process
_backend = os.environ.get("MULTIVIEW_DECODER", DEFAULT_BACKEND)
_readers: OrderedDict = OrderedDict()
_readers_pid: int | None = None
_inherited: list = []
_libc = None  # readers made before a fork: never used or freed in the child


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


def set_backend(name: str) -> None:
    """Read frames with ``name`` ("pyav" or "decord") from now on, in this process."""
    global _backend
    if name not in BACKENDS:
        from multiview.core.errors import UserError

        raise UserError(f"decoder backend: expected one of {', '.join(BACKENDS)}, got {name!r}")
    _backend = name


def backend() -> str:
    return _backend if _backend in BACKENDS else DEFAULT_BACKEND


def _reason(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {(lines[0] if lines else '')[:200]}"


def _cached(kind: str, path: str, make):
    global _readers_pid
    if _readers_pid != os.getpid():
        _inherited.extend(_readers.values())
        _readers.clear()
        _readers_pid = os.getpid()
    try:
        st = os.stat(path)
    except OSError as e:
        raise DecodeError(f"{path}: cannot open ({_reason(e)})") from None
    key = (kind, path, st.st_size, st.st_mtime_ns)
    if key in _readers:
        _readers.move_to_end(key)
        return _readers[key]
    reader = make()
    _readers[key] = reader
    if len(_readers) > CACHE_SIZE:
        while len(_readers) > CACHE_SIZE:
            _readers.popitem(last=False)[1].close()
        _trim()
    return reader


def _trim() -> None:
    """Hand freed decoder buffers back to the system (glibc keeps them otherwise, and RSS creeps up)."""
    global _libc
    if _libc is None:
        import ctypes
        import ctypes.util

        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


def clear_cache() -> None:
    """Close every reader this process holds."""
    while _readers:
        _readers.popitem()[1].close()


def video_reader(path: str | Path, size: int | None = None):
    """A cached reader of ``path`` (``size`` is accepted for compatibility; frames are resized on read)."""
    path = str(path)
    first = backend()
    other = "decord" if first == "pyav" else "pyav"
    errors = []
    for name in (first, other):
        try:
            return _cached(name, path, lambda name=name: BACKENDS[name](path))
        except DecodeError:
            raise
        except ImplausibleHeader as e:  # not handed to the other backend, which would trust it
            raise DecodeError(f"{path}: {e}") from None
        except Exception as e:  # decord raises DECORDError, PyAV its own FFmpeg errors
            errors.append(f"{name}: {_reason(e)}")
    raise DecodeError(f"{path}: cannot decode video ({'; '.join(errors)})")


def read_frames(path: str | Path, times_s, size: int | None = None) -> torch.Tensor:
    """Frames shown at each time in ``times_s`` as uint8 ``[T, size, size, 3]`` (native size if None)."""
    reader = video_reader(path)
    try:
        return torch.from_numpy(reader.frames_at(times_s, size))
    except Exception as e:
        raise DecodeError(f"{path}: cannot decode frames at {list(np.round(times_s, 3))} s ({_reason(e)})") from None


def _to_mono(frame) -> np.ndarray:
    x = frame.to_ndarray()
    channels = len(frame.layout.channels) or 1
    if not frame.format.is_planar:
        x = x.reshape(-1, channels).T
    if x.dtype == np.uint8:
        x = (x.astype(np.float32) - 128) / 128
    elif x.dtype.kind == "i":
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    return x.astype(np.float32, copy=False).mean(axis=0)


def _frames_of(container, stream):
    """Decoded frames of ``stream``, with None for each packet the decoder rejects (a corrupt packet
    in the middle of a track, or the partial one a seek can land on)."""
    import av

    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            yield None
            continue
        yield from frames


def _decode_span(path: str, start_s: float, end_s: float) -> tuple[np.ndarray, int, int]:
    """Native-rate mono samples covering ``[start_s, end_s)``: (samples, rate, index of the first)."""
    try:
        size = os.path.getsize(path)
        with open_av(path) as c:
            if not c.streams.audio:
                raise DecodeError(f"{path}: no audio stream")
            a = c.streams.audio[0]
            origin = c.streams.video[0].start_time * c.streams.video[0].time_base if (
                c.streams.video and c.streams.video[0].start_time is not None) else 0
            origin = float(origin)
            rate = int(a.codec_context.sample_rate or a.rate or 0)
            if rate <= 0:
                raise DecodeError(f"{path}: audio stream has no sample rate")
            if start_s > 0.5:
                c.seek(int((start_s - 0.3 + origin) / a.time_base), stream=a, backward=True, any_frame=False)
            pieces, last_end, bad = [], None, 0
            for frame in _frames_of(c, a):
                if frame is None:
                    bad += 1
                    if bad > 8 and not pieces:
                        raise DecodeError(f"{path}: cannot decode audio (no valid packet among the first {bad})")
                    continue
                if frame.samples == 0:
                    continue
                mono = _to_mono(frame)
                if frame.pts is not None:
                    at = int(round((float(frame.pts * frame.time_base) - origin) * rate))
                else:
                    at = last_end if last_end is not None else 0
                if pieces and at / rate >= end_s:  # past the window: not needed, however far
                    break
                if at > rate * max_seconds(size):
                    raise DecodeError(f"{path}: audio timestamp {at / rate:.0f} s lies beyond what its "
                                      f"{size} bytes can hold; a corrupt or hostile file")
                pieces.append((at, mono))
                last_end = at + len(mono)
                if at / rate >= end_s:
                    break
    except DecodeError:
        raise
    except Exception as e:
        raise DecodeError(f"{path}: cannot decode audio ({_reason(e)})") from None
    if not pieces:
        raise DecodeError(f"{path}: audio stream has no decodable samples")
    lo = max(0, min(at for at, _ in pieces))
    hi = max(at + len(m) for at, m in pieces)
    out = np.zeros(max(0, hi - lo), np.float32)
    for at, m in pieces:
        if at + len(m) > lo:
            out[max(at, lo) - lo : at + len(m) - lo] = m[max(0, lo - at):]
    return out, rate, lo


def _resample(x: np.ndarray, rate: int, sample_rate: int, length: int) -> np.ndarray:
    """``x`` resampled from ``rate`` to ``sample_rate``, computed on ``x`` zero-padded to ``length``
    samples (one shape per call site, see the module docstring) and cut back to ``x``'s span."""
    import torchaudio.functional as AF

    if rate == sample_rate or not len(x):
        return x
    n_out = -(-len(x) * sample_rate // rate)
    padded = np.zeros(max(length, len(x)), np.float32)
    padded[: len(x)] = x
    return AF.resample(torch.from_numpy(padded), rate, sample_rate).numpy()[:n_out]


def window(signal, signal_start: int, first: int, n: int) -> torch.Tensor:
    """Samples ``first .. first + n`` of a timeline on which ``signal[0]`` is sample
    ``signal_start``, as float32 ``[n]``, zeros where the signal does not reach."""
    out = torch.zeros(n)
    s, e = max(first, signal_start), min(first + n, signal_start + len(signal))
    if e > s:
        out[s - first : e - first] = torch.as_tensor(signal[s - signal_start : e - signal_start])
    return out


def read_audio(path: str | Path, start_s: float, duration_s: float, sample_rate: int) -> torch.Tensor:
    """Mono audio from ``start_s`` for ``duration_s`` seconds at ``sample_rate``, zero-padded past either end."""
    n = int(round(duration_s * sample_rate))
    first = int(round(start_s * sample_rate))  # on the output grid: sample m is at m / sample_rate
    margin = 0.05  # seconds decoded either side, so the resampling filter sees real neighbours
    native, rate, at = _decode_span(str(path), first / sample_rate - margin, (first + n) / sample_rate + margin)
    # Native sample B * block and output sample B * (sample_rate // g) fall at the same instant:
    # resampling from such a sample keeps both grids aligned exactly.
    g = gcd(rate, sample_rate)
    block, out_block = rate // g, sample_rate // g
    lo = block * int(np.floor((first / sample_rate - margin) * rate / block))
    if lo < at:
        lo = block * -(-at // block)
    hi = int(np.ceil(((first + n) / sample_rate + margin) * rate))
    piece = native[max(0, lo - at) : max(0, hi - at)]
    longest = int(np.ceil((duration_s + 2 * margin) * rate)) + block + 2
    piece = _resample(piece, rate, sample_rate, longest)
    return window(piece, lo // block * out_block, first, n)


def audio_track(path: str | Path, sample_rate: int) -> np.ndarray:
    """The whole audio track from the video's start, mono, resampled, as float32 ``[n]``."""
    native, rate, at = _decode_span(str(path), 0.0, float("inf"))
    x = np.concatenate([np.zeros(at, np.float32), native]) if at > 0 else native
    x = _resample(x, rate, sample_rate, -(-len(x) // rate) * rate)  # whole seconds: few shapes
    return x.astype(np.float32, copy=False)


def probe(path: str | Path) -> MediaInfo:
    """Container metadata read with PyAV, without decoding; raises DecodeError naming the file."""
    try:
        with open_av(path) as c:
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
