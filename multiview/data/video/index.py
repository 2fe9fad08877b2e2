"""``multiview data index FOLDER --out INDEX``: list the usable videos of any folder.

Finds video files recursively, probes each in a pool of child processes
(:func:`multiview.data.video.media_info.probe_file`), and writes two JSON Lines files atomically:

* ``INDEX``: one record per usable video (path, size, mtime, duration, fps, frame count, frame
  size, audio stream, its sample rate and channels, and ``label``/``caption`` from TSVs beside
  the videos, see :mod:`multiview.data.video.annotations`);
* ``INDEX.rejected.jsonl``: one record per file that cannot be used, with the reason.

Re-running with the same ``--out`` probes only files whose (path, size, mtime) changed. A probe
that kills its child process (a decoder crash), or runs past ``--timeout`` seconds (a decoder
stuck on a hostile file: the child's alarm ends it), rejects that file and the indexer goes on.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

from multiview.errors import UserError
from multiview.io import atomic_write

PROBE_TIMEOUT_S = 120
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".webm", ".mkv", ".avi", ".mov", ".mpg", ".mpeg", ".flv",
                    ".ogv", ".wmv", ".3gp", ".ts", ".mts")


def report_path(index: Path) -> Path:
    return index.with_name(index.name.removesuffix(".jsonl") + ".rejected.jsonl")


def discover(root: Path, extensions=VIDEO_EXTENSIONS) -> list[str]:
    """Absolute paths of the files under ``root`` with a video extension, sorted."""
    exts = {e.lower() for e in extensions}
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [os.path.join(dirpath, f) for f in filenames
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in exts]
    return sorted(os.path.abspath(p) for p in found)


def read_jsonl(path: Path) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise UserError(f"{path}: line {n} is not JSON ({e.msg}); expected a video index") from None
    return records


def load_index(path: str | os.PathLike) -> list[dict]:
    """The usable-video records of an index written by ``multiview data index``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: no such index; make one with `multiview data index FOLDER --out {path}`")
    records = read_jsonl(path)
    for r in records:
        if "path" not in r or "duration" not in r:
            raise UserError(f"{path}: record without 'path'/'duration'; expected a video index")
    return records


def write_jsonl(path: Path, records: list[dict]) -> None:
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    atomic_write(path, lambda f: f.write(text), mode="w")


def _progress(total: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="probing", disable=quiet or total == 0,
                dynamic_ncols=True, file=sys.stderr)


def _run_pool(paths: list[str], workers: int, probe: Callable, bar) -> tuple[dict, list[str]]:
    """Probe ``paths`` in a pool; results so far and the paths left when the pool broke."""
    results: dict[str, dict] = {}
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(probe, p): p for p in paths}
        try:
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.update(1)
        except BrokenProcessPool:
            pass
    return results, [p for p in paths if p not in results]


def _guarded(probe: Callable, timeout: float, path: str) -> dict:
    """Run ``probe`` in a pool child that SIGALRM (default action) ends after ``timeout`` seconds."""
    signal.alarm(max(1, int(round(timeout))))
    try:
        return probe(path)
    finally:
        signal.alarm(0)


def _isolated(path: str, probe: Callable, timeout: float) -> dict:
    """Probe one file in its own process; a crash or a hang rejects that file alone."""
    start = time.monotonic()
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(_guarded, probe, timeout, path).result()
        except BrokenProcessPool:
            st = os.stat(path)
            reason = (f"probing took longer than {timeout:g} s (the decoder hung on this file)"
                      if time.monotonic() - start >= timeout else "the decoder crashed while probing this file")
            return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "reason": reason}


def probe_all(paths: list[str], workers: int, probe: Callable, quiet: bool = False,
              timeout: float = PROBE_TIMEOUT_S) -> dict[str, dict]:
    """Probe every path; survives children killed by a decoder crash or by the timeout."""
    results: dict[str, dict] = {}
    pending = list(paths)
    guarded = functools.partial(_guarded, probe, timeout)
    with _progress(len(paths), quiet) as bar:
        while pending:
            done, left = _run_pool(pending, workers, guarded, bar)
            results.update(done)
            if not left:
                break
            # The files in flight when the pool broke are the first ones left (the pool runs in
            # submission order): probe those alone, then go back to a pool for the rest.
            suspects, pending = left[: 2 * workers + 2], left[2 * workers + 2:]
            for p in suspects:
                results[p] = _isolated(p, probe, timeout)
                bar.update(1)
    return results


def build_index(root: Path, out: Path, workers: int, probe: Callable | None = None,
                quiet: bool = False, timeout: float = PROBE_TIMEOUT_S) -> tuple[list[dict], list[dict], dict]:
    """Index ``root`` into ``out``; returns (usable, rejected, stats)."""
    from multiview.data.video.annotations import read_annotations
    from multiview.data.video.media_info import probe_file

    paths = discover(root)
    if not paths:
        raise UserError(f"{root}: no video files found (looked for {' '.join(VIDEO_EXTENSIONS)})")
    previous: dict[str, dict] = {}
    for old in (out, report_path(out)):
        if old.is_file():
            previous.update({r["path"]: r for r in read_jsonl(old) if "path" in r})
    keep, todo = {}, []
    for p in paths:
        st, old = os.stat(p), previous.get(p)
        if old and old.get("size") == st.st_size and old.get("mtime_ns") == st.st_mtime_ns:
            keep[p] = old
        else:
            todo.append(p)
    probed = probe_all(todo, max(1, min(workers, len(todo))), probe or probe_file, quiet,
                       timeout) if todo else {}
    annotations, notes = read_annotations(root)
    usable, rejected = [], []
    for p in paths:
        r = dict(keep.get(p) or probed[p])
        if "reason" in r:
            rejected.append(r)
            continue
        extra = annotations.get(os.path.normpath(p), {})
        r["relpath"] = os.path.relpath(p, root)
        r["label"], r["caption"] = extra.get("label"), extra.get("caption")
        usable.append(r)
    write_jsonl(out, usable)
    write_jsonl(report_path(out), rejected)
    stats = {"found": len(paths), "probed": len(todo), "reused": len(keep), "usable": len(usable),
             "rejected": len(rejected), "notes": notes}
    return usable, rejected, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multiview data index", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of videos (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="index file to write (JSON Lines)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="probing processes (default: CPUs, at most 8)")
    parser.add_argument("--timeout", type=float, default=PROBE_TIMEOUT_S,
                        help=f"seconds before a file's probe is abandoned (default {PROBE_TIMEOUT_S})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    root = args.folder.expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"{args.folder}: not a folder; expected a folder of videos")
    if args.workers < 1:
        raise UserError(f"--workers: expected a positive integer, got {args.workers}")
    if args.timeout <= 0:
        raise UserError(f"--timeout: expected a positive number of seconds, got {args.timeout}")
    out = args.out.expanduser().resolve()
    usable, rejected, stats = build_index(root, out, args.workers, quiet=args.quiet, timeout=args.timeout)
    print(f"{root}: {stats['found']} video files, {stats['usable']} usable, {stats['rejected']} rejected "
          f"({stats['probed']} probed, {stats['reused']} unchanged since the last index)")
    for r in rejected:
        print(f"  rejected {os.path.relpath(r['path'], root)}: {r['reason']}")
    for r in usable:
        if not r.get("audio_ok") and r.get("has_audio"):
            print(f"  no usable audio {os.path.relpath(r['path'], root)}: {r['audio_error']}")
    for note in stats["notes"]:
        print(f"  note: {note}")
    labelled = sum(r["label"] is not None for r in usable)
    captioned = sum(r["caption"] is not None for r in usable)
    print(f"index: {out} ({labelled} labelled, {captioned} captioned)\nreport: {report_path(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
