"""Published train/test splits of the standard audio-visual retrieval sets, read from their own files.

A user who has downloaded the videos points ``--data.index`` at the folder; when one of these
annotation files lies in the folder (or one folder down), the folder data module
(:class:`multiview.data.video.datamodule.VideoFolderDataModule`, ``data.layout``) holds out the
published test split instead of a hashed share, attaches the CSV's labels and captions, and reads
clips only inside the 10-second window a CSV gives (where the file is the whole YouTube video):

* **MSR-VTT** (Xu et al. 2016), 1k-A test list of JSFusion (Yu et al. 2018): ``MSRVTT_JSFUSION_test.csv``
  (``key, vid_key, video_id, sentence``: the test caption); training videos from
  ``MSRVTT_train.9k.csv`` (column ``video_id``) where present, else every other video. Captions
  and categories of training videos from ``MSRVTT_data.json`` where present. Files ``videoNNNN.mp4``.
* **VGGSound** (Chen et al. 2020): ``vggsound.csv``, no header: ``YouTube id, start second, label,
  train|test``; the window is ``[start, start + 10]``.
* **AudioSet** (Gemmeke et al. 2017): ``balanced_train_segments.csv``, ``unbalanced_train_segments.csv``
  (training) and ``eval_segments.csv`` (test): ``#`` comment lines, then ``YTID, start_seconds,
  end_seconds, "positive_labels"``; label names from ``class_labels_indices.csv`` where present.
  A record's ``label`` is its first positive label, ``labels`` all of them.

YouTube-cut files are found under the namings the common downloaders use: ``{id}_{start:06d}``,
``{id}_{start}``, ``{id}_{start}_{end}`` (seconds, ``%06d`` or milliseconds), ``Y{id}_...``
(AudioSet's PANNs release) or ``{id}`` alone (the whole video), any video extension, any subfolder.
Listed videos that are not in the folder are counted and reported in one line.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from multiview.core.errors import UserError

LAYOUTS = ("auto", "none", "msrvtt", "vggsound", "audioset")
WINDOW_S = 10.0
MARKERS = {"msrvtt": ("MSRVTT_JSFUSION_test.csv",), "vggsound": ("vggsound.csv",),
           "audioset": ("eval_segments.csv", "balanced_train_segments.csv", "unbalanced_train_segments.csv")}
FILES = {"msrvtt": ("MSRVTT_JSFUSION_test.csv", "MSRVTT_train.9k.csv", "MSRVTT_data.json"),
         "vggsound": ("vggsound.csv",), "audioset": MARKERS["audioset"] + ("class_labels_indices.csv",)}


@dataclass
class Entry:
    """One listed video: its id, split (``train``/``test``) and the file names (no extension) it may have."""

    key: str
    split: str
    stems: tuple[str, ...]
    start: float | None = None
    end: float | None = None
    label: str | None = None
    labels: list[str] | None = None
    caption: str | None = None


@dataclass
class Layout:
    name: str
    files: list[str]
    entries: list[Entry] = field(default_factory=list)

    def split(self, records: list[dict], where: str) -> tuple[list[dict], list[dict], str]:
        """``(train, test, note)``: the indexed records of the listed videos, with labels, captions
        and windows; ``note`` is the one line that counts what was found and what is missing."""
        by_stem: dict[str, dict] = {}
        for r in records:
            by_stem.setdefault(os.path.splitext(os.path.basename(r["path"]))[0], r)
        parts: dict[str, list[dict]] = {"train": [], "test": []}
        missing: list[str] = []
        for e in self.entries:
            r = next((by_stem[s] for s in e.stems if s in by_stem), None)
            if r is None:
                missing.append(e.key)
                continue
            r = dict(r)
            for name in ("label", "labels", "caption"):
                if getattr(e, name) is not None:
                    r[name] = getattr(e, name)
            duration = float(r.get("duration") or 0)
            if e.start is not None and duration > (e.end - e.start) + 1.0:  # the whole video: cut the window
                r["start"], r["end"] = e.start, min(e.end, duration)
            parts[e.split].append(r)
        note = (f"{self.name} layout ({', '.join(self.files)}): {len(parts['train'])} train and "
                f"{len(parts['test'])} test videos; {len(missing)} listed videos missing from {where}")
        if missing:
            note += f" (e.g. {', '.join(missing[:3])})"
        if not parts["train"] or not parts["test"]:
            raise UserError(note + "; need videos of both splits")
        return parts["train"], parts["test"], note


def _num(text: str) -> str:
    value = float(text)
    return str(int(value)) if value == int(value) else f"{value:g}"


def youtube_stems(ytid: str, start: float, end: float) -> tuple[str, ...]:
    """The file names (no extension) a cut of ``ytid`` from ``start`` to ``end`` seconds may have."""
    s, e = _num(str(start)), _num(str(end))
    cuts = [f"_{s}", f"_{s}_{e}", f"_{int(start * 1000)}_{int(end * 1000)}", f"_{start:.3f}_{end:.3f}",
            f"_{start:.1f}_{end:.1f}", ""]
    if start == int(start) and end == int(end):
        cuts[:0] = [f"_{int(start):06d}", f"_{int(start):06d}_{int(end):06d}"]
    return tuple(dict.fromkeys(p + ytid + c for p in ("", "Y") for c in cuts))


def _read_csv(path: Path, **kw) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            return [row for row in csv.reader(f, skipinitialspace=True, **kw)
                    if row and row[0].strip() and not row[0].lstrip().startswith("#")]
    except (OSError, csv.Error) as e:
        raise UserError(f"{path}: cannot read ({e}); expected the dataset's CSV") from None


def _row_error(path: Path, n: int, row: list[str], expected: str) -> UserError:
    return UserError(f"{path}: row {n} is {','.join(row)[:80]!r}; expected {expected}")


def _msrvtt(files: dict[str, Path]) -> list[Entry]:
    test = files["MSRVTT_JSFUSION_test.csv"]
    rows = _read_csv(test)
    header = [h.strip() for h in rows[0]]
    if "video_id" not in header:
        raise UserError(f"{test}: no video_id column; expected key,vid_key,video_id,sentence")
    vid, sent = header.index("video_id"), header.index("sentence") if "sentence" in header else None
    entries = {r[vid]: Entry(r[vid], "test", (r[vid],), caption=r[sent] if sent is not None else None)
               for r in rows[1:] if len(r) > vid}
    meta = files["MSRVTT_data.json"] if "MSRVTT_data.json" in files else None
    captions, categories = {}, {}
    if meta is not None:
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise UserError(f"{meta}: cannot read ({e}); expected MSR-VTT's annotation JSON") from None
        for s in data.get("sentences", []):
            captions.setdefault(s["video_id"], s["caption"])
        categories = {v["video_id"]: str(v["category"]) for v in data.get("videos", []) if "category" in v}
    train_list = files.get("MSRVTT_train.9k.csv")
    if train_list is not None:
        rows = _read_csv(train_list)
        col = [h.strip() for h in rows[0]].index("video_id") if "video_id" in rows[0] else 0
        train = [r[col] for r in rows[1:] if r[col] != "video_id"]
    else:
        train = [f"video{k}" for k in range(10000) if f"video{k}" not in entries]
    for key, e in entries.items():
        e.label = categories.get(key)
    train_entries = [Entry(k, "train", (k,), label=categories.get(k), caption=captions.get(k)) for k in train]
    return train_entries + list(entries.values())


def _vggsound(files: dict[str, Path]) -> list[Entry]:
    path, out = files["vggsound.csv"], []
    for n, row in enumerate(_read_csv(path), 1):
        try:
            ytid, start, label, split = row[0].strip(), float(row[1]), row[2].strip(), row[3].strip()
        except (IndexError, ValueError):
            raise _row_error(path, n, row, "YouTube id, start second, label, train|test") from None
        if split not in ("train", "test"):
            raise _row_error(path, n, row, "train or test in the fourth column")
        out.append(Entry(ytid, split, youtube_stems(ytid, start, start + WINDOW_S), start, start + WINDOW_S, label))
    return out


def _audioset(files: dict[str, Path]) -> list[Entry]:
    names: dict[str, str] = {}
    if "class_labels_indices.csv" in files:
        names = {r[1]: r[2] for r in _read_csv(files["class_labels_indices.csv"])[1:] if len(r) > 2}
    out = []
    for name, split in (("balanced_train_segments.csv", "train"), ("unbalanced_train_segments.csv", "train"),
                        ("eval_segments.csv", "test")):
        if name not in files:
            continue
        for n, row in enumerate(_read_csv(files[name]), 1):
            try:
                ytid, start, end = row[0].strip(), float(row[1]), float(row[2])
                labels = [names.get(m.strip(), m.strip()) for m in row[3].split(",") if m.strip()]
            except (IndexError, ValueError):
                raise _row_error(files[name], n, row, 'YTID, start_seconds, end_seconds, "positive_labels"') from None
            out.append(Entry(ytid, split, youtube_stems(ytid, start, end), start, end,
                             labels[0] if labels else None, labels))
    return out


READERS = {"msrvtt": _msrvtt, "vggsound": _vggsound, "audioset": _audioset}
KNOWN = tuple(name for names in FILES.values() for name in names)


def _annotation_files(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))]:
        for name in KNOWN:
            if name not in found and (folder / name).is_file():
                found[name] = folder / name
    return found


def find_layout(root: str | os.PathLike, name: str = "auto") -> Layout | None:
    """The published layout of the folder ``root`` (``name``: one of :data:`LAYOUTS`); None for a plain folder."""
    if name not in LAYOUTS:
        raise UserError(f"data.layout: expected one of {', '.join(LAYOUTS)}, got {name!r}")
    root = Path(root)
    if name == "none" or not root.is_dir():
        return None
    files = _annotation_files(root)
    present = [k for k, marks in MARKERS.items() if any(m in files for m in marks) and name in ("auto", k)]
    if name != "auto" and not present:
        raise UserError(f"data.layout: {name}: none of {', '.join(MARKERS[name])} in {root} or a folder below it")
    if not present:
        return None
    if len(present) > 1:
        raise UserError(f"data.layout: {root} holds the files of {' and '.join(present)}; name one with data.layout")
    chosen = present[0]
    return Layout(chosen, [n for n in FILES[chosen] if n in files], READERS[chosen](files))


def records_root(records: list[dict]) -> str | None:
    """The folder an index was made from (a record's path less its relative path)."""
    for r in records:
        if r.get("relpath") and r["path"].endswith(r["relpath"]):
            return r["path"][: -len(r["relpath"])] or None
    return None
