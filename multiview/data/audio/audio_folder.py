"""Labelled audio clips: the Free Spoken Digit Dataset, or any ``<class>/<file>`` audio folder.

FSDD (Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset) ships as
``recordings/<digit>_<speaker>_<take>.wav`` (8 kHz mono). Its tar is extracted once into the
cache; splits hold speakers out of training (``test_speakers`` and ``val_speakers``; by default
the last two speakers in sorted order are the test set and the one before them validation), so a
score measures generalisation to new voices. Files are decoded with soundfile (libsndfile: WAV
of any sample format, FLAC, OGG, MP3...) and, where it cannot read them, PyAV, in bounded blocks
(:mod:`multiview.data.audio.readers`: at most ``MAX_SECONDS`` per file, only the window a clip needs). Samples are dicts
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

import torch
import torchaudio.functional as AF
from torch.utils.data import Dataset

from multiview.core.errors import UserError
from multiview.data.audio.readers import MAX_SECONDS, read_any, read_pyav, read_soundfile  # noqa: F401
from multiview.data.media import Skipped

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus")
FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")


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
