"""Labels and captions that a corpus ships beside its videos, as TSV files.

Any ``*.tsv`` in a folder of videos with a header row is read. One column names the file
(``file``, ``path``, ``filename`` or ``video``; relative to the TSV's folder); a column called
``label``, ``class`` or ``category`` gives a label, and one called ``caption``, ``transcript``,
``text``, ``sentence`` or ``description`` gives a caption. Other columns are ignored::

    file\tlabel\tsource
    dog_video_02677.mp4\tdog\tVAS
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

FILE_COLUMNS = ("file", "path", "filename", "video")
LABEL_COLUMNS = ("label", "class", "category")
CAPTION_COLUMNS = ("caption", "transcript", "text", "sentence", "description")


def _pick(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def read_tsv(path: Path) -> tuple[dict[str, dict], str | None]:
    """``{absolute video path: {"label"?, "caption"?}}`` from one TSV, and a note if it was skipped."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    except (csv.Error, OSError) as e:  # a field over csv's size limit, a folder, no permission
        return {}, f"{path}: cannot read ({type(e).__name__}: {getattr(e, 'strerror', None) or e}); ignored"
    if not rows:
        return {}, f"{path}: empty TSV; ignored"
    header = rows[0]
    fcol = _pick(header, FILE_COLUMNS)
    lcol, ccol = _pick(header, LABEL_COLUMNS), _pick(header, CAPTION_COLUMNS)
    if fcol is None:
        return {}, f"{path}: no file column (expected one of {', '.join(FILE_COLUMNS)}); ignored"
    if lcol is None and ccol is None:
        return {}, f"{path}: no label or caption column; ignored"
    out: dict[str, dict] = {}
    for row in rows[1:]:
        if len(row) <= fcol or not row[fcol].strip():
            continue
        key = os.path.normpath(os.path.join(path.parent, row[fcol].strip()))
        entry = out.setdefault(key, {})
        if lcol is not None and len(row) > lcol and row[lcol].strip():
            entry["label"] = row[lcol].strip()
        if ccol is not None and len(row) > ccol and row[ccol].strip():
            entry["caption"] = row[ccol].strip()
    return out, None


def read_annotations(root: Path) -> tuple[dict[str, dict], list[str]]:
    """Merge every TSV under ``root``; returns annotations by absolute path and notes on skipped TSVs."""
    merged: dict[str, dict] = {}
    notes: list[str] = []
    for tsv in sorted(root.rglob("*.tsv")):
        entries, note = read_tsv(tsv)
        if note:
            notes.append(note)
        for key, entry in entries.items():
            merged.setdefault(key, {}).update(entry)
    return merged, notes
