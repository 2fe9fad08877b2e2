"""Labelled audio clips: the Free Spoken Digit Dataset, or any ``<class>/<file>`` audio folder.

FSDD (Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset) ships as
``recordings/<digit>_<speaker>_<take>.wav`` (8 kHz mono). Its tar is extracted once into the
cache; splits hold speakers out of training (``test_speakers`` and ``val_speakers``; by default
the last two speakers in sorted order are the test set and the one before them validation), so a
score measures generalisation to new voices. Files are decoded with soundfile (libsndfile: WAV
of any sample format, FLAC, OGG, MP3...) and, where it cannot read them, PyAV. Samples are dicts
``{"audio": float32 [n] mono at sample_rate, padded or centre-cropped to seconds, "label": int,
"index": int, "speaker": str}``; each clip is scaled to a peak of ``peak`` (recording levels
differ by speaker; ``None`` keeps them).

``multiview data audio_folder PATH_OR_TAR`` prints the classes, speakers and split sizes (:func:`describe`).
"""

from __future__ import annotations

import re
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torchaudio.functional as AF
from torch.utils.data import Dataset

from multiview.core.errors import UserError
from multiview.data.media import Skipped

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus")
FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")


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


def fix_length(x: torch.Tensor, n: int) -> torch.Tensor:
    """Centre-crop or zero-pad (equally on both sides) to ``n`` samples."""
    if len(x) >= n:
        start = (len(x) - n) // 2
        return x[start:start + n]
    left = (n - len(x)) // 2
    return torch.nn.functional.pad(x, (left, n - len(x) - left))


def fix_length_batch(x: torch.Tensor, n: int) -> torch.Tensor:
    return torch.stack([fix_length(row, n) for row in x]) if x.shape[-1] != n else x


def resolve(path: str | Path) -> Path:
    """A folder of audio, extracting a ``.tar`` once into the cache."""
    if not str(path).strip():
        raise UserError("audio data: no path given (data.path); expected a folder or .tar of audio files")
    path = Path(path).expanduser()
    if path.is_file() and tarfile.is_tarfile(path):
        from multiview.core.cache import extract_tar

        return extract_tar(path)
    if not path.is_dir():
        raise UserError(f"audio data: expected a folder or .tar of audio files, got {str(path)!r}")
    return path


def list_clips(root: Path) -> list[tuple[Path, str, str]]:
    """``(file, class, speaker)`` for every clip: FSDD names, or ``<class>/<file>`` folders."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    fsdd = [(p, FSDD_NAME.match(p.stem)) for p in files]
    if files and all(m for _, m in fsdd):
        return [(p, m.group(1), m.group(2)) for p, m in fsdd]
    clips = [(p, p.parent.name, "") for p in files if p.parent != root]
    if not clips:
        raise UserError(f"{root}: no audio in <class>/<file> folders or FSDD-named files "
                        f"({', '.join(AUDIO_EXTENSIONS)})")
    return clips


def split_clips(clips: list[tuple[Path, str, str]], split: str, test_speakers: tuple[str, ...],
                val_speakers: tuple[str, ...]) -> list[tuple[Path, str, str]]:
    """Speaker-held-out splits when speakers are known; else every fifth file per class is test
    (the last of a class of 2 to 4 files, :func:`~multiview.data.splits.held_out_fifth`) and every
    fifth of the rest is validation."""
    if split not in ("train", "val", "test"):
        raise UserError(f"split: expected train, val or test, got {split!r}")
    speakers = {s for _, _, s in clips}
    if speakers != {""}:
        unknown = set(test_speakers + val_speakers) - speakers
        if unknown:
            raise UserError(f"speakers {sorted(unknown)} not in the data (speakers: {sorted(speakers)})")
        which = {"test": set(test_speakers), "val": set(val_speakers)}
        if split == "train":
            return [c for c in clips if c[2] not in which["test"] | which["val"]]
        return [c for c in clips if c[2] in which[split]]
    from multiview.data.splits import held_out_fifth

    out, seen, counts = [], {}, Counter(c[1] for c in clips)
    for c in clips:
        i = seen[c[1]] = seen.get(c[1], -1) + 1
        part = "test" if held_out_fifth(i, counts[c[1]]) else ("val" if (i // 5) % 5 == 4 else "train")
        if part == split:
            out.append(c)
    return out


class AudioFolderDataset(Dataset):
    """One split of an audio folder, decoded once into memory at ``sample_rate``."""

    def __init__(self, path: str | Path, split: str = "train", sample_rate: int = 16000,
                 seconds: float = 1.0, test_speakers: tuple[str, ...] | None = None,
                 val_speakers: tuple[str, ...] | None = None, peak: float | None = 0.5):
        root = resolve(path)
        all_clips = list_clips(root)
        self.classes = sorted({c for _, c, _ in all_clips})
        speakers = sorted({s for _, _, s in all_clips} - {""})
        if not speakers:
            test_speakers = val_speakers = ()
        elif test_speakers is None or val_speakers is None:  # last two speakers test, the one before val
            if len(speakers) < 3:
                raise UserError(f"{root}: {len(speakers)} speakers; need 3 to hold speakers out of training")
            k = 2 if len(speakers) >= 4 else 1
            test_speakers = tuple(speakers[-k:]) if test_speakers is None else test_speakers
            val_speakers = (speakers[-k - 1],) if val_speakers is None else val_speakers
        clips = split_clips(all_clips, split, tuple(test_speakers), tuple(val_speakers))
        n = int(round(seconds * sample_rate))
        skipped = Skipped(f"{root} ({split})")
        decoded = []
        for clip in clips:
            try:
                decoded.append((clip, read_any(clip[0], seconds)))
            except UserError as e:
                skipped.add(clip[0], str(e))
        skipped.require_some(len(clips))
        skipped.report(len(clips))
        self.skipped = len(skipped)
        clips, decoded = [c for c, _ in decoded], [d for _, d in decoded]
        self.waves = torch.zeros(len(clips), n)
        for rate in sorted({r for _, r in decoded}):  # resample each rate's clips as one batch
            idx = [i for i, (_, r) in enumerate(decoded) if r == rate]
            native = torch.stack([fix_length(torch.from_numpy(decoded[i][0]), int(round(seconds * rate))) for i in idx])
            resampled = AF.resample(native, rate, sample_rate) if rate != sample_rate else native
            self.waves[idx] = fix_length_batch(resampled, n)
        if peak is not None:  # recording levels differ by speaker; equalise them
            self.waves *= peak / self.waves.abs().amax(1, keepdim=True).clamp_min(1e-6)
        self.labels = [self.classes.index(c) for _, c, _ in clips]
        self.speakers = [s for _, _, s in clips]
        self.files = [str(f) for f, _, _ in clips]

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int) -> dict:
        return {"audio": self.waves[i], "label": self.labels[i], "index": i, "speaker": self.speakers[i]}


def describe(path: str) -> str:
    """The classes, speakers, clip count and split sizes of an audio folder or tar, as printed by
    ``multiview data audio_folder`` (:mod:`multiview.cli.data.audio_folder`)."""
    root = resolve(path)
    clips = list_clips(root)
    lines = [f"{root}: {len(clips)} clips, classes {sorted({c for _, c, _ in clips})}"]
    speakers = sorted({s for _, _, s in clips} - {""})
    test, val = (), ()
    if speakers:
        lines.append(f"speakers: {speakers}")
        if len(speakers) >= 3:  # the defaults of AudioFolderDataset
            k = 2 if len(speakers) >= 4 else 1
            test, val = tuple(speakers[-k:]), (speakers[-k - 1],)
    if not speakers or len(speakers) >= 3:
        sizes = {s: split_clips(clips, s, test, val) for s in ("train", "val", "test")}
        held = f" (test speakers {list(test)}, validation {list(val)})" if speakers else ""
        lines.append("splits: " + ", ".join(f"{s} {len(c)}" for s, c in sizes.items()) + held)
    return "\n".join(lines)
