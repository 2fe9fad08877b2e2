"""One way to keep a cache: locked, keyed on what it came from, written atomically, bounded in bytes.

Every cache of the suite (decoded media, decoded image splits, extracted tars, supervised
baselines) lives under ``paths.cache_dir(kind)`` and goes through here:

* **keys** name the source by resolved path, size and modification time (:func:`file_key`,
  :func:`tree_key`), so a file changed in place is never answered from a stale entry;
* **writes** go to a temp file (or folder) unique to the process, ``.NAME.<pid>.<random>.tmp``,
  then ``os.replace`` onto the entry, under an exclusive ``fcntl.flock`` on ``.NAME.lock`` so
  two ranks or two runs make an entry once and never collide;
* **tars** are extracted into such a temp folder and renamed into place only after every member
  was read to the end (the gzip CRC and length are checked there) and the completion record
  (:data:`COMPLETE`) was written last inside it, so a corrupt or interrupted archive is never taken
  for a complete extraction; a folder without the record is extracted again;
* **in use**: a reader holds a shared ``fcntl.flock`` on ``.NAME.use`` while it reads an entry
  (:func:`reading`), or for the rest of its process (:func:`hold`, what :func:`extract_tar` does:
  the folder is read file by file, also by DataLoader workers, which inherit the lock);
* **budget**: an entry is one child (a file, or an extracted folder) of a kind folder made by
  :func:`folder`; after a write, entries are evicted least recently used first (by mtime,
  refreshed on every hit) until the cache is under ``MULTIVIEW_CACHE_BYTES`` (default 20 GB);
  an entry in use or being written is skipped, and one evicted is first renamed away, so a half
  deleted folder never sits under an entry's name;
* **sweep**: temp files whose process is gone (a kill mid-write) are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tarfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from multiview.core import paths
from multiview.core.errors import UserError

DEFAULT_BUDGET = 20 * 1024 ** 3
COMPLETE = ".multiview-complete"
_TEMP = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$")
_last_evict = 0.0
_held: dict[Path, object] = {}


def folder(kind: str) -> Path:
    """The cache folder ``kind``, marked as managed here (only those are swept and evicted)."""
    path = paths.cache_dir(kind)
    marker = path / ".managed"
    if not marker.exists():
        marker.touch()
    return path


def _managed(root: Path | None) -> list[Path]:
    root = root or paths.home() / "cache"
    return [p for p in _children(root) if (p / ".managed").is_file()]


def budget() -> int:
    """Bytes the whole cache may hold: ``$MULTIVIEW_CACHE_BYTES`` (suffix K, M or G allowed)."""
    text = os.environ.get("MULTIVIEW_CACHE_BYTES", "").strip()
    if not text:
        return DEFAULT_BUDGET
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?)B?", text.upper())
    if not m:
        raise UserError(f"MULTIVIEW_CACHE_BYTES: expected a byte count such as 5000000000 or 5G, got {text!r}")
    return int(float(m.group(1)) * 1024 ** " KMG".index(m.group(2) or " "))


def file_key(path: str | os.PathLike) -> str:
    """``resolved path:size:mtime_ns`` of one file (raises UserError if it cannot be read)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def tree_key(files: Iterable[str | os.PathLike]) -> str:
    """A digest of every file's path, size and mtime: changes when any of them does."""
    h = hashlib.sha1()
    for f in files:
        try:
            st = os.stat(f)
            h.update(f"{os.path.abspath(f)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{os.path.abspath(f)}:missing\n".encode())
    return h.hexdigest()


def digest(*parts) -> str:
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def temp_path(entry: Path) -> Path:
    return entry.with_name(f".{entry.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


@contextlib.contextmanager
def locked(entry: Path):
    """Hold an exclusive lock on ``entry`` (its ``.NAME.lock`` beside it) for the block."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(entry.with_name(f".{entry.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _use_file(entry: Path):
    entry.parent.mkdir(parents=True, exist_ok=True)
    return open(entry.with_name(f".{entry.name}.use"), "a")


@contextlib.contextmanager
def reading(entry: Path):
    """Hold a shared lock on ``entry`` for the block: eviction (any process) leaves it alone."""
    with _use_file(entry) as use:
        fcntl.flock(use, fcntl.LOCK_SH)
        yield


def hold(entry: Path) -> None:
    """Keep ``entry`` in use until :func:`release` or the process ends (its forks included)."""
    if entry not in _held:
        use = _use_file(entry)
        fcntl.flock(use, fcntl.LOCK_SH)
        _held[entry] = use


def release(entry: Path) -> None:
    use = _held.pop(entry, None)
    if use is not None:
        use.close()


def touch(entry: Path) -> None:
    """Mark ``entry`` as just used (eviction drops the least recently used first)."""
    with contextlib.suppress(OSError):
        os.utime(entry)


def write(entry: Path, write_to: Callable[[Path], None]) -> Path:
    """``write_to(temp)`` then rename ``temp`` onto ``entry``; sweeps and evicts after."""
    tmp = temp_path(entry)
    try:
        write_to(tmp)
        if tmp.is_file():
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, entry)
    except BaseException:
        _remove(tmp)
        raise
    maintain(keep=entry)
    return entry


def extract_tar(tar_path: str | os.PathLike, kind: str = "extracted") -> Path:
    """Extract ``tar_path`` once (safe ``data`` filter) into the cache; verify, then rename."""
    tar_path = Path(tar_path)
    out = folder(kind) / f"{tar_path.name.split('.')[0]}-{digest(file_key(tar_path))}"
    hold(out)  # from here on no eviction removes it, until this process ends
    if (out / COMPLETE).is_file():
        touch(out)
        return out
    with locked(out):
        if (out / COMPLETE).is_file():
            return out
        _remove(out)  # an incomplete folder (from a version without the record)
        tmp = temp_path(out)
        try:
            with tarfile.open(tar_path) as tar:
                tar.extractall(tmp, filter="data")  # reads every member; then the end of the stream:
                while tar.fileobj.read(1 << 20):  # the gzip/bz2/xz trailer (CRC, length) is checked here
                    pass
            (tmp / COMPLETE).write_text(f"{tar_path.resolve()}\n")
            os.replace(tmp, out)
        except BaseException as e:
            _remove(tmp)
            if isinstance(e, (tarfile.TarError, OSError, EOFError, ValueError, UnicodeError, KeyError)):
                raise UserError(f"{tar_path}: not a readable tar archive ({type(e).__name__}: {e})") from None
            raise
    maintain(keep=out)
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        with contextlib.suppress(OSError):
            return path.lstat().st_size
        return 0
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(root: Path | None = None) -> int:
    """Remove temp files and folders left by processes that no longer run; how many."""
    removed = 0
    for kind in _managed(root):
        for entry in _children(kind):
            m = _TEMP.match(entry.name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                _remove(entry)
                removed += 1
    return removed


def _children(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def evict(limit: int | None = None, keep: Path | None = None, root: Path | None = None) -> int:
    """Drop least recently used entries until the cache holds at most ``limit`` bytes."""
    limit = budget() if limit is None else limit
    entries = []
    for kind in _managed(root):
        for entry in _children(kind):
            if entry.name.startswith("."):
                continue
            with contextlib.suppress(OSError):
                entries.append((entry.stat().st_mtime, entry, _size(entry)))
    total = sum(s for _, _, s in entries)
    removed = 0
    for _, entry, size in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        if keep is not None and entry == keep or not _evict_one(entry):
            continue
        total -= size
        removed += 1
    return removed


def _evict_one(entry: Path) -> bool:
    """Remove ``entry`` unless it is being written or read (by any process); whether it was."""
    with open(entry.with_name(f".{entry.name}.lock"), "a") as lock, _use_file(entry) as use:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(use, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        gone = temp_path(entry)
        try:
            os.replace(entry, gone)  # atomic: readers see the whole entry or none
        except FileNotFoundError:
            return False
        _remove(gone)
    return True


def maintain(keep: Path | None = None, every_s: float = 10.0) -> None:
    """Sweep dead temp files and enforce the budget, at most once every ``every_s`` seconds."""
    global _last_evict
    if _last_evict and time.monotonic() - _last_evict < every_s:
        return
    _last_evict = time.monotonic()
    sweep()
    evict(keep=keep)
