"""Caches: keys that follow the source's size and mtime, one maker under a lock, unique temp
files swept after a kill, tar extraction that is verified before it is renamed into place, and
a byte budget that evicts the least recently used entry."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from multiview.core import cache as cache_store
from multiview.core.errors import UserError
from multiview.data.video import cache


def _tar_gz(path, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def test_corrupt_tar_gz_is_never_taken_as_extracted(tmp_path):
    data = _tar_gz(tmp_path / "set.tar.gz", {"a/x.txt": b"hello" * 100, "b/y.txt": b"world" * 100})
    bad = bytearray(data)
    bad[-8] ^= 0xFF  # the gzip trailer's CRC-32: every member reads fine, the stream is corrupt
    (tmp_path / "crc.tar.gz").write_bytes(bytes(bad))
    (tmp_path / "torn.tar.gz").write_bytes(data[: len(data) - 20])
    for name in ("crc.tar.gz", "torn.tar.gz"):
        for _ in range(2):  # and not stamped complete by the first attempt
            with pytest.raises(UserError, match=f"{name}: not a readable tar archive"):
                cache_store.extract_tar(tmp_path / name)
    extracted = cache_store.folder("extracted")
    assert not [p for p in extracted.iterdir() if p.name.startswith(("crc", "torn"))]
    out = cache_store.extract_tar(tmp_path / "set.tar.gz")
    assert (out / "a" / "x.txt").read_bytes() == b"hello" * 100


def test_image_cache_follows_file_contents(tmp_path):
    from multiview.data.image.images import decode_split

    root = tmp_path / "pics"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((4, 4, 3), 10 * i, np.uint8)).save(root / c / f"{i}.png")
    first, _, _ = decode_split(root, "train", 4)
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(root / "a" / "0.png")  # same name, new pixels
    os.utime(root / "a" / "0.png", ns=(time.time_ns() + 10**9,) * 2)
    again, _, _ = decode_split(root, "train", 4)
    assert int(first[0].max()) == 0 and int(again[0].min()) == 200


def test_supervised_cache_key_follows_the_data(tmp_path):
    from multiview.eval.core.baselines import data_fingerprint

    (tmp_path / "d" / "a").mkdir(parents=True)
    (tmp_path / "d" / "a" / "1.wav").write_bytes(b"x")
    before = data_fingerprint(str(tmp_path / "d"))
    (tmp_path / "d" / "a" / "1.wav").write_bytes(b"xy")
    assert data_fingerprint(str(tmp_path / "d")) != before
    assert data_fingerprint("words") == "words"


def test_one_maker_per_entry_across_threads(tmp_path):
    video = tmp_path / "v.bin"
    video.write_bytes(b"source")
    store, calls = cache.DecodeCache("t", root=tmp_path / "c"), []

    def make():
        calls.append(1)
        time.sleep(0.3)
        return torch.arange(5)

    results = []
    threads = [threading.Thread(target=lambda: results.append(store.get(str(video), {"k": 1}, make)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and all(torch.equal(r, torch.arange(5)) for r in results)
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.endswith(".tmp")]


def test_temp_files_of_dead_processes_are_swept(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIVIEW_HOME", str(tmp_path / "home"))
    kind = cache_store.folder("decoded-x")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    stale = kind / f".e.pt.{pid}.0123abcd.tmp"
    stale.write_bytes(b"torn")
    mine = kind / f".e.pt.{os.getpid()}.89abcdef.tmp"
    mine.write_bytes(b"in progress")
    (kind / f".dir.{pid}.fedcba98.tmp").mkdir()
    assert cache_store.sweep() == 2
    assert not stale.exists() and mine.exists() and not (kind / f".dir.{pid}.fedcba98.tmp").exists()


def test_byte_budget_evicts_least_recently_used(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIVIEW_HOME", str(tmp_path / "home"))
    kind = cache_store.folder("supervised")
    for i, name in enumerate(("old", "used", "new")):
        (kind / name).write_bytes(b"x" * 1000)
        os.utime(kind / name, (1000 + i, 1000 + i))
    cache_store.touch(kind / "old")  # used just now: the least recently used is "used"
    monkeypatch.setenv("MULTIVIEW_CACHE_BYTES", "2100")
    assert cache_store.budget() == 2100
    assert cache_store.evict() == 1
    assert sorted(p.name for p in kind.iterdir() if not p.name.startswith(".")) == ["new", "old"]
    monkeypatch.setenv("MULTIVIEW_CACHE_BYTES", "1K")
    assert cache_store.evict(keep=kind / "new") == 1 and (kind / "new").exists()
    monkeypatch.setenv("MULTIVIEW_CACHE_BYTES", "lots")
    with pytest.raises(UserError, match="MULTIVIEW_CACHE_BYTES"):
        cache_store.budget()


def test_gzip_entries_written_by_a_cache_are_whole(tmp_path):
    entry = tmp_path / "e.gz"
    cache_store.write(entry, lambda tmp: tmp.write_bytes(gzip.compress(b"abc")))
    assert gzip.decompress(entry.read_bytes()) == b"abc"
    with pytest.raises(ZeroDivisionError):
        cache_store.write(entry, lambda tmp: (tmp.write_bytes(b"half"), 1 / 0))
    assert gzip.decompress(entry.read_bytes()) == b"abc" and len(list(tmp_path.iterdir())) == 1
