"""List the usable videos of any folder (`multiview data index FOLDER --out INDEX`, :mod:`multiview.cli.data.index`).

Finds video files recursively, probes each in a pool of child processes
(:func:`multiview.data.video.media_info.probe_file`), and writes two JSON Lines files atomically:

* ``INDEX``: one record per usable video (path, size, mtime, duration, fps, frame count, frame
  size, audio stream, its sample rate and channels, and ``label``/``caption`` from TSVs beside
  the videos, see :mod:`multiview.data.video.annotations`);
* ``INDEX.rejected.jsonl``: one record per file that cannot be used, with the reason.

Re-running with the same ``--out`` probes only files whose (path, size, mtime) changed. A probe
that kills its child process (a decoder crash), or runs past ``--timeout`` seconds (a decoder
stuck on a hostile file: the child's alarm ends it), rejects that file and the indexer goes on.
The probing processes die with the indexer, also when it is killed with SIGKILL
(:func:`multiview.data.workers.die_with_parent`).

Both files are rewritten (atomically) as probing goes, every ``--flush-seconds``, and on SIGTERM
or Ctrl-C (exit 143 / 130), so an interrupted index keeps what it probed and the next run
continues from there. Symbolic links are followed, each folder and file once (by device and
inode, so a link to a parent folder cannot loop); a dangling link or a file deleted while the
index is built is rejected with its reason.
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import current_process, get_context
from pathlib import Path

from multiview.core import cache as cache_store
from multiview.core.errors import UserError
from multiview.core.paths import cache_dir
from multiview.data.index_records import (  # noqa: F401
    RECORD_TYPES,
    check_record,
    load_index,
    read_jsonl,
    write_jsonl,
)
from multiview.data.workers import die_with_parent

PROBE_TIMEOUT_S = 120
FLUSH_S = 30.0
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".webm", ".mkv", ".avi", ".mov", ".mpg", ".mpeg", ".flv",
                    ".ogv", ".wmv", ".3gp", ".ts", ".mts")


def report_path(index: Path) -> Path:
    return index.with_name(index.name.removesuffix(".jsonl") + ".rejected.jsonl")


def discover(root: Path, extensions=VIDEO_EXTENSIONS, rejected: list[dict] | None = None) -> list[str]:
    """Absolute paths of the files under ``root`` with a video extension, sorted; each folder and
    each file once (by device and inode); unreadable entries go to ``rejected``."""
    exts = {e.lower() for e in extensions}
    found, seen_dirs, seen_files = [], set(), set()
    rejected = [] if rejected is None else rejected
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a link back to a folder already walked
            dirnames[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.startswith(".") or os.path.splitext(f)[1].lower() not in exts:
                continue
            path = os.path.abspath(os.path.join(dirpath, f))
            try:
                st = os.stat(path)
            except OSError as e:
                why = "a dangling symbolic link" if os.path.islink(path) else (e.strerror or type(e).__name__)
                rejected.append({"path": path, "size": 0, "mtime_ns": 0, "reason": f"cannot open ({why})"})
                continue
            if (st.st_dev, st.st_ino) not in seen_files:
                seen_files.add((st.st_dev, st.st_ino))
                found.append(path)
    return sorted(found)


def _progress(total: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="probing", disable=quiet or total == 0,
                dynamic_ncols=True, file=sys.stderr)


class Terminated(Exception):
    """SIGTERM reached the indexer (raised in the main thread by its handler)."""


def raise_terminated(signum, frame):
    """A SIGTERM handler: stop the indexer with :class:`Terminated` (the partial index is kept)."""
    raise Terminated()


def _run_pool(paths: list[str], workers: int, probe: Callable, bar,
              on_result: Callable[[str, dict], None]) -> tuple[dict, list[str]]:
    """Probe ``paths`` in a pool; results so far and the paths left when the pool broke."""
    results: dict[str, dict] = {}
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(probe, p): p for p in paths}
        try:
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                on_result(futures[fut], results[futures[fut]])
                bar.update(1)
        except BrokenProcessPool:
            pass
        except BaseException:  # interrupted: do not wait for the files not started yet
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results, [p for p in paths if p not in results]


def _guarded(probe: Callable, timeout: float, path: str) -> dict:
    """Run ``probe`` in a pool child that SIGALRM (default action) ends after ``timeout`` seconds."""
    signal.alarm(max(1, int(round(timeout))))
    try:
        return probe(path)
    finally:
        signal.alarm(0)


UNGUARDED = ("the indexer's probing processes die as they start: a script that calls multiview must guard its "
             "entry point with `if __name__ == \"__main__\":` (spawn runs it again in each child)")


def _children_start() -> bool:
    """Whether a spawned child runs at all (a crash that is not the file's)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(os.getpid).result() > 0
        except BrokenProcessPool:
            return False


def _isolated(path: str, probe: Callable, timeout: float) -> dict:
    """Probe one file in its own process; a crash or a hang rejects that file alone."""
    start = time.monotonic()
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        try:
            return pool.submit(_guarded, probe, timeout, path).result()
        except BrokenProcessPool:
            if not _children_start():
                raise UserError(UNGUARDED) from None
            try:
                st = os.stat(path)
            except OSError as e:
                return {"path": path, "size": 0, "mtime_ns": 0, "reason": f"cannot open ({e.strerror})"}
            reason = (f"probing took longer than {timeout:g} s (the decoder hung on this file)"
                      if time.monotonic() - start >= timeout else "the decoder crashed while probing this file")
            return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "reason": reason}


def probe_all(paths: list[str], workers: int, probe: Callable, quiet: bool = False,
              timeout: float = PROBE_TIMEOUT_S,
              on_result: Callable[[str, dict], None] = lambda path, record: None) -> dict[str, dict]:
    """Probe every path; survives children killed by a decoder crash or by the timeout.
    ``on_result(path, record)`` is called as each result comes in."""
    results: dict[str, dict] = {}
    pending = list(paths)
    guarded = functools.partial(_guarded, probe, timeout)
    with _progress(len(paths), quiet) as bar:
        while pending:
            done, left = _run_pool(pending, workers, guarded, bar, on_result)
            results.update(done)
            if not left:
                break
            # The files in flight when the pool broke are the first ones left (the pool runs in
            # submission order): probe those alone, then go back to a pool for the rest.
            suspects, pending = left[: 2 * workers + 2], left[2 * workers + 2:]
            for p in suspects:
                results[p] = _isolated(p, probe, timeout)
                on_result(p, results[p])
                bar.update(1)
    return results


def _previous(out: Path) -> dict[str, dict]:
    """Records of an earlier (maybe partial) index at ``out``, by path; unreadable ones are ignored."""
    previous: dict[str, dict] = {}
    for old in (out, report_path(out)):
        if old.is_file():
            try:
                records = read_jsonl(old)
            except UserError:
                continue
            previous.update({r["path"]: r for r in records if isinstance(r.get("path"), str)})
    return previous


def build_index(root: Path, out: Path, workers: int, probe: Callable | None = None,
                quiet: bool = False, timeout: float = PROBE_TIMEOUT_S,
                flush_s: float = FLUSH_S) -> tuple[list[dict], list[dict], dict]:
    """Index ``root`` into ``out``; returns (usable, rejected, stats). Both files are rewritten
    every ``flush_s`` seconds while probing, and when probing stops for any reason."""
    from multiview.data.video.annotations import read_annotations
    from multiview.data.video.media_info import probe_file

    unreadable: list[dict] = []
    paths = discover(root, rejected=unreadable)
    if not paths and not unreadable:
        raise UserError(f"{root}: no video files found (looked for {' '.join(VIDEO_EXTENSIONS)})")
    previous = _previous(out)
    done, todo = {}, []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError as e:  # deleted since it was found
            unreadable.append({"path": p, "size": 0, "mtime_ns": 0, "reason": f"cannot open ({e.strerror})"})
            continue
        old = previous.get(p)
        if old and old.get("size") == st.st_size and old.get("mtime_ns") == st.st_mtime_ns:
            done[p] = old
        else:
            todo.append(p)
    reused = len(done)
    annotations, notes = read_annotations(root)

    def write() -> tuple[list[dict], list[dict]]:
        usable, rejected = [], list(unreadable)
        for p in paths:
            if p not in done:
                continue
            r = dict(done[p])
            if "reason" in r:
                rejected.append(r)
                continue
            extra = annotations.get(os.path.normpath(p), {})
            r["relpath"] = os.path.relpath(p, root)
            r["label"], r["caption"] = extra.get("label"), extra.get("caption")
            usable.append(r)
        rejected.sort(key=lambda r: r["path"])
        write_jsonl(out, usable)
        write_jsonl(report_path(out), rejected)
        return usable, rejected

    last = [time.monotonic()]

    def on_result(path: str, record: dict) -> None:
        done[path] = record
        if time.monotonic() - last[0] >= flush_s:
            write()
            last[0] = time.monotonic()

    try:
        if todo:
            probe_all(todo, max(1, min(workers, len(todo))), probe or probe_file, quiet, timeout, on_result)
    finally:
        usable, rejected = write()
    stats = {"found": len(paths) + len(unreadable), "probed": len(todo), "reused": reused,
             "usable": len(usable), "rejected": len(rejected), "notes": notes}
    return usable, rejected, stats


def resolve_index(index: str, workers: int = 2) -> str:
    """An index file as given, or a folder of videos indexed (incrementally) into the cache."""
    path = Path(index).expanduser()
    if not index or not path.exists():
        raise UserError(f"data.index: expected an index file or a folder of videos, got {index!r}")
    if path.is_file():
        return str(path)
    if getattr(current_process(), "_inheriting", False):  # an unguarded script run again in a prober child
        raise RuntimeError(UNGUARDED)  # ends the child at once: it would wait for the parent's lock
    root = path.resolve()
    out = cache_dir("video-index") / (hashlib.sha1(str(root).encode()).hexdigest()[:16] + ".jsonl")
    with cache_store.locked(out):  # two ranks index the folder once; files unchanged are reused
        build_index(root, out, workers, quiet=True)
    return str(out)
