"""A cache entry in use is never evicted under its reader, and a read that loses its files is an
error, never a partial array cached under the full key (two real processes for the race)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from multiview.core import cache as cache_store
from multiview.core.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
N_TRAIN = 12

# Process A: decodes the training split of an extracted tar, pausing after its second image until
# the test says go (meanwhile process B evicts with a budget of one byte).
READER = """
import sys, time
from pathlib import Path
from multiview.data.image import images
tar, reading, go = sys.argv[1:4]
real, calls = images.read_image, [0]
def slow(path, size):
    calls[0] += 1
    if calls[0] == 2 and reading != "-":
        Path(reading).touch()
        deadline = time.time() + 60
        while not Path(go).exists() and time.time() < deadline:
            time.sleep(0.02)
    return real(path, size)
images.read_image = slow
x, y, _ = images.decode_split(images.resolve_root(tar), "train", 8)
print(len(x))
"""
EVICT = "from multiview.core import cache; print(cache.evict())"


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def image_tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        for i in range(N_TRAIN):
            for split in ("train", "test"):
                data = _png(10 * i)
                info = tarfile.TarInfo(f"{split}/{'ab'[i % 2]}/{i}.png")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def child(env, *args, code=READER):
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_eviction_by_another_process_skips_a_folder_being_read(tmp_path):
    env = {**os.environ, "MULTIVIEW_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    tar, reading, go = image_tar(tmp_path / "pics.tar"), tmp_path / "reading", tmp_path / "go"
    a = child(env, tar, reading, go)
    try:
        while not reading.exists():
            assert a.poll() is None, a.communicate()
            time.sleep(0.05)
        b = subprocess.run([sys.executable, "-c", EVICT], cwd=ROOT, capture_output=True, text=True,
                           env={**env, "MULTIVIEW_CACHE_BYTES": "1"}, timeout=120)
        assert b.returncode == 0, b.stderr
        assert int(b.stdout) == 0  # the extracted folder is in use: nothing evicted
    finally:
        go.touch()
    out, err = a.communicate(timeout=120)
    assert a.returncode == 0 and int(out) == N_TRAIN, err
    again = subprocess.run([sys.executable, "-c", READER, str(tar), "-", "-"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and int(again.stdout) == N_TRAIN, again.stderr  # the next run: every image


def test_files_vanishing_mid_read_are_an_error_and_nothing_is_cached(tmp_path, monkeypatch):
    from multiview.data.image import images

    monkeypatch.setenv("MULTIVIEW_HOME", str(tmp_path / "home"))
    root = tmp_path / "pics"
    for i in range(N_TRAIN):
        (root / "ab"[i % 2]).mkdir(parents=True, exist_ok=True)
        (root / "ab"[i % 2] / f"{i}.png").write_bytes(_png(i))
    real, calls = images.read_image, []

    def losing(path, size):
        calls.append(path)
        if len(calls) == 2:  # someone removes a class folder while it is read
            for f in (root / "b").iterdir():
                f.unlink()
        return real(path, size)

    monkeypatch.setattr(images, "read_image", losing)
    with pytest.raises(UserError, match="vanished or changed while"):
        images.decode_split(root, "train", 8)
    assert not list(cache_store.folder("decoded-images").glob("*.npz"))


def test_an_entry_is_complete_or_absent_under_its_name(tmp_path, monkeypatch):
    """Eviction renames a folder away before deleting it, and a folder without its completion
    record (an older or interrupted extraction) is extracted again."""
    monkeypatch.setenv("MULTIVIEW_HOME", str(tmp_path / "home"))
    tar = image_tar(tmp_path / "pics.tar")
    out = cache_store.extract_tar(tar)
    assert (out / cache_store.COMPLETE).is_file()
    cache_store.release(out)
    (out / cache_store.COMPLETE).unlink()
    (out / "train" / "a" / "0.png").unlink()  # a half-deleted folder from an older version
    again = cache_store.extract_tar(tar)
    assert again == out and (out / "train" / "a" / "0.png").is_file() and (out / cache_store.COMPLETE).is_file()
    cache_store.release(out)
    removed = []
    real = cache_store._remove
    monkeypatch.setattr(cache_store, "_remove", lambda p: (removed.append(p), real(p)))
    assert cache_store.evict(limit=0) >= 1
    assert not out.exists() and removed and all(p.name.startswith(".") for p in removed)
