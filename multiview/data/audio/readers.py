"""Reading one audio file as float32 mono, bounded by what the file holds.

libsndfile (soundfile) reads WAV of any sample format, FLAC, OGG, MP3, AIFF; PyAV (FFmpeg) the
rest (AAC, M4A, Opus in MP4/WebM). Neither trusts the header: frames are decoded ``BLOCK`` at a
time, at most :data:`MAX_SECONDS` of a file (a documented cap: the rest of a longer file is not
read), and no more than the file's size can hold (:func:`multiview.data.media.max_seconds`). A
272 KB FLAC of 27 minutes of silence grew a reader by 1 GB before; now 104 MB for the whole
capped file and 3 MB for a one-second window. A FLAC header declaring 2^36 samples reads as the
samples the file holds. Samples that are NaN or infinite are refused (:func:`read_any`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from multiview.core.errors import UserError

MAX_SECONDS = 600.0  # the most of one file any reader decodes (10 minutes): the rest is not read
BLOCK = 65536  # frames decoded at a time
FIRST = 1 << 20  # frames a reader allocates before any is decoded
MAX_RATE = 768_000  # Hz; a header declaring more is refused


def _frames_cap(path: str | Path, rate: int, cap: float) -> int:
    """Frames a reader may decode: ``cap`` seconds, and no more than the file's size can hold."""
    from multiview.data.media import max_seconds

    return int(min(cap, max_seconds(Path(path).stat().st_size)) * rate)


def _read_mono(f, frames: int) -> np.ndarray:
    """Up to ``frames`` mono frames from an open ``soundfile.SoundFile``, ``BLOCK`` at a time; the
    buffer grows with what is decoded (from the declared length, at most ``FIRST``), so a header
    that lies costs nothing; short when the file ends first."""
    out, total = np.empty(min(frames, max(BLOCK, min(f.frames, FIRST))), np.float32), 0
    while total < frames:
        block = f.read(min(BLOCK, frames - total), dtype="float32", always_2d=True)
        if not len(block):
            break
        if total + len(block) > len(out):
            out.resize(min(frames, 2 * len(out) + len(block)), refcheck=False)
        out[total:total + len(block)] = block.mean(1, dtype=np.float32)
        total += len(block)
    out.resize(total, refcheck=False)
    return out


def _count_frames(path: str | Path, limit: int) -> int:
    """Frames the file really holds, up to ``limit``, decoded ``BLOCK`` at a time and dropped."""
    import soundfile

    total = 0
    with soundfile.SoundFile(str(path)) as f:
        while total < limit:
            n = len(f.read(min(BLOCK, limit - total), dtype="float32", always_2d=True))
            if not n:
                break
            total += n
    return total


def read_soundfile(path: str | Path, seconds: float | None = None,
                   cap: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """``(float32 mono samples in [-1, 1], sample rate)`` through libsndfile (soundfile).

    Bounded by what the file holds, not what its header claims: frames are decoded ``BLOCK`` at a
    time and at most ``cap`` seconds (:data:`MAX_SECONDS`) are read, so a FLAC of hours of silence
    (a few hundred KB) or a header declaring 2^36 samples costs a few MB. With ``seconds``, only
    the centred window of that length is kept (what :func:`fix_length` keeps): found from the
    declared length when it is within the cap, else from the frames counted in a first pass.
    """
    import soundfile

    with soundfile.SoundFile(str(path)) as f:
        rate, declared = int(f.samplerate), int(f.frames)
        if not 0 < rate <= MAX_RATE or f.channels <= 0:
            raise UserError(f"{path}: audio header declares {rate} Hz and {f.channels} channels; "
                            f"expected 1 to {MAX_RATE} Hz and at least one channel")
        limit = _frames_cap(path, rate, cap)
        if seconds is None:
            return _read_mono(f, limit), rate
        want = min(limit, max(1, int(round(seconds * rate))))
        trusted = 0 < declared <= limit
        start = max(0, ((declared if trusted else _count_frames(path, limit)) - want) // 2)
        if start and trusted and f.seekable():
            f.seek(start)
        elif start:
            _skip(f, start)
        return _read_mono(f, want), rate


def _skip(f, frames: int) -> None:
    while frames > 0:
        n = len(f.read(min(BLOCK, frames), dtype="float32", always_2d=True))
        if not n:
            return
        frames -= n


def _to_float(x: np.ndarray) -> np.ndarray:
    """PCM samples in [-1, 1]: FFmpeg's integer formats (s16, s32, u8) scaled, float ones as they are."""
    if x.dtype.kind == "u":
        half = float(np.iinfo(x.dtype).max + 1) / 2
        return (x.astype(np.float32) - half) / half
    if x.dtype.kind == "i":
        return x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    return x.astype(np.float32, copy=False)


def read_pyav(path: str | Path, seconds: float | None = None, cap: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """``(float32 mono samples, sample rate)`` of the first audio stream, through PyAV (FFmpeg);
    at most ``cap`` seconds are decoded; with ``seconds``, the centred window of that length."""
    import av

    from multiview.data.media import READ_ERRORS, max_seconds, open_av, reason

    try:
        limit = max_seconds(Path(path).stat().st_size)
        with open_av(path) as container:
            if not container.streams.audio:
                raise UserError(f"{path}: no audio stream")
            stream = container.streams.audio[0]
            if stream.codec_context is None:  # FFmpeg has no decoder for this sample format
                raise UserError(f"{path}: cannot decode audio (no decoder for its audio stream)")
            rate = int(stream.codec_context.sample_rate or 0)
            if rate <= 0:
                raise UserError(f"{path}: audio stream has no sample rate")
            chunks, total = [], 0
            for f in container.decode(stream):
                chunk = f.to_ndarray().reshape(f.layout.nb_channels if f.format.is_planar else 1, -1)
                chunks.append(_to_float(chunk).mean(0, dtype=np.float32))
                total += len(chunks[-1])
                if total > limit * rate:
                    raise UserError(f"{path}: decodes to more audio than its size can hold")
                if total >= cap * rate:
                    break
    except UserError:
        raise
    except READ_ERRORS + (av.FFmpegError,) as e:
        raise UserError(f"{path}: cannot decode audio ({reason(e)})") from None
    if not chunks:
        raise UserError(f"{path}: audio stream has no decodable samples")
    x = np.concatenate(chunks)[: int(cap * rate)].astype(np.float32)
    if seconds is not None:
        want = max(1, int(round(seconds * rate)))
        x = x[max(0, (len(x) - want) // 2):][:want]
    return x, rate


def read_any(path: str | Path, seconds: float | None = None, cap: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """An audio file as float32 mono: soundfile where libsndfile reads it (WAV of any sample
    format, FLAC, OGG, MP3, AIFF...), else PyAV (AAC, M4A, Opus in MP4/WebM...). At most ``cap``
    seconds are decoded (:data:`MAX_SECONDS`); with ``seconds``, only the centred window. Raises
    :class:`UserError` (one line naming the file) for anything it cannot read, and for samples
    that are NaN or infinite (a folder reader skips and counts the file)."""
    from multiview.data.media import READ_ERRORS

    try:
        x, rate = read_soundfile(path, seconds, cap)
    except UserError:
        raise
    except READ_ERRORS:  # libsndfile cannot read it (or its header lies): FFmpeg may
        x, rate = read_pyav(path, seconds, cap)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:  # a float WAV can hold NaN or inf: one such clip would turn the training loss to NaN
        raise UserError(f"{path}: {bad} of its {len(x)} samples are NaN or infinite; expected finite audio")
    return x, rate
