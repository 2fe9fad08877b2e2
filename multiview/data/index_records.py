"""Records of a video index on disk: JSON Lines read, type-checked and written atomically.

:func:`load_index` checks every field the readers use (a string path, a finite non-negative
duration, integer frame counts, true/false flags, a string or null label), so a hand-edited or
foreign index fails in one line naming the record and field, not deep inside a DataLoader.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from multiview.core.errors import UserError
from multiview.core.io import atomic_write


def read_jsonl(path: Path) -> list[dict]:
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except (json.JSONDecodeError, RecursionError) as e:
                        raise UserError(f"{path}: line {n} is not JSON ({getattr(e, 'msg', e)}); "
                                        "expected a video index") from None
                    if not isinstance(records[-1], dict):
                        raise UserError(f"{path}: line {n} is not a JSON object; expected a video index")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); expected a video index") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
    return records


NUMBER = (int, float)
RECORD_TYPES = {"path": str, "duration": NUMBER, "fps": NUMBER, "frames": int, "width": int, "height": int,
                "size": int, "mtime_ns": int, "sample_rate": int, "channels": int, "has_audio": bool,
                "audio_ok": bool, "relpath": str, "label": (str, type(None)), "caption": (str, type(None))}
EXPECTED = {str: "a string", bool: "true or false", int: "a non-negative integer",
            NUMBER: "a non-negative number", (str, type(None)): "a string or null"}


def _valid(value, types) -> bool:
    if isinstance(value, bool):
        return types is bool
    if not isinstance(value, types):
        return False
    return not isinstance(value, NUMBER) or 0 <= value < float("inf")


def check_record(r: dict, where: str) -> dict:
    """``r`` if every field the readers use has its type (numbers finite and not negative)."""
    for key in ("path", "duration"):
        if key not in r:
            raise UserError(f"{where}: record without {key!r}; expected a video index")
    for key, types in RECORD_TYPES.items():
        if key in r and not _valid(r[key], types) and not (r[key] is None and key not in ("path", "duration")):
            raise UserError(f"{where}: {key!r} is {str(r[key])[:40]!r}; expected {EXPECTED[types]}")
    return r


def load_index(path: str | os.PathLike) -> list[dict]:
    """The usable-video records of an index written by ``multiview data index``, type-checked."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: no such index; make one with `multiview data index FOLDER --out {path}`")
    return [check_record(r, f"{path}: record {n}") for n, r in enumerate(read_jsonl(path), 1)]


def write_jsonl(path: Path, records: list[dict]) -> None:
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    atomic_write(path, lambda f: f.write(text), mode="w")
