"""File names that are not UTF-8 (bytes on disk) are indexed, trained on and printed escaped."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from multiview.data.index_records import load_index
from multiview.data.media import Skipped, shown
from multiview.data.splits import split_records

REPO = Path(__file__).resolve().parents[2]
GOOD, BAD = b"clip_\xff.mpg", b"bad_\xfe.mp4"


def run(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "multiview.cli.main", *args], capture_output=True, timeout=timeout,
                          env=os.environ.copy(), stdin=subprocess.DEVNULL)


@pytest.fixture
def odd_folder(tmp_path, shared_data) -> Path:
    grid = shared_data / "av" / "grid"
    if not grid.is_dir():
        pytest.skip(f"shared data missing: {grid}")
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("bbaf2n.mpg", "brbk7n.mpg", "lbax4n.mpg"):
        shutil.copy(grid / name, folder / name)
    shutil.copy(grid / "lbbc2a.mpg", os.path.join(os.fsencode(folder), GOOD))
    with open(os.path.join(os.fsencode(folder), BAD), "wb") as f:
        f.write(b"not a video" * 100)
    return folder


def test_shown_escapes_what_is_not_utf8():
    name = os.fsdecode(b"/v/clip_\xff.mp4")
    assert shown(name) == "/v/clip_\\xff.mp4" and shown("caf\u00e9.mp4") == "caf\u00e9.mp4"
    assert os.fsencode(name) == b"/v/clip_\xff.mp4"  # surrogateescape round-trips to the bytes on disk
    skipped = Skipped("/v")
    skipped.add(name, f"{name}: cannot decode")
    assert skipped.items == [("/v/clip_\\xff.mp4", "cannot decode")]
    train, val = split_records([{"path": name, "duration": 1.0}, {"path": "/v/b.mp4", "duration": 1.0}], 0.5)
    assert len(train) == len(val) == 1


def test_non_utf8_names_are_indexed_trained_on_and_printed_escaped(odd_folder, tmp_path):
    index = tmp_path / "videos.jsonl"
    r = run("data", "index", str(odd_folder), "--out", str(index), "--workers", "1", "--quiet")
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, err[-2000:]
    out.encode("ascii")  # every byte name escaped
    assert "rejected bad_\\xfe.mp4: " in out and "4 usable, 1 rejected" in out, out
    records = load_index(index)
    odd = [rec for rec in records if os.fsencode(rec["path"]).endswith(GOOD)]
    assert len(odd) == 1 and os.path.isfile(odd[0]["path"])  # the JSON store gives the name back as on disk
    r = run("fit", "--config", str(REPO / "recipes" / "cmc_av_folder.yaml"), "--data.index", str(index),
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--data.batch_size", "4",
            "--data.clips_per_video", "2", "--data.num_workers", "0", "--data.val_fraction", "0.4",
            "--trainer.callbacks", "[]", "--trainer.default_root_dir", str(tmp_path / "run"))
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0 and "Traceback" not in err, err[-3000:]


def test_decord_reads_a_non_utf8_name(odd_folder, shared_data):
    import numpy as np

    from multiview.data.video.readers import DecordVideo

    odd = DecordVideo(os.fsdecode(os.path.join(os.fsencode(odd_folder), GOOD)))
    same = DecordVideo(str(shared_data / "av" / "grid" / "lbbc2a.mpg"))
    times = [0.0, 1.0, 2.5]
    assert len(odd) == len(same) and np.array_equal(odd.frames_at(times, 32), same.frames_at(times, 32))
