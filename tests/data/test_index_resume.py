"""``multiview data index`` keeps its work: the partial index is flushed as files are probed,
SIGTERM to the whole process group (what Slurm and systemd send) keeps it and exits 143, and
the next run continues from it to the same index an uninterrupted run writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from multiview.data.video import index
from tests.av_media import write_video

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def test_sigterm_to_the_group_keeps_the_partial_index_and_the_next_run_finishes_it(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    for i in range(14):
        write_video(root / f"v{i:02d}.mp4", audio=i % 2 == 0, n_frames=4, click_frame=1)
    (root / "broken.mp4").write_text("not a video")
    whole = tmp_path / "whole.jsonl"
    index.build_index(root, whole, workers=1, quiet=True)

    out = tmp_path / "idx.jsonl"
    cmd = [sys.executable, "-m", "multiview.cli.main", "data", "index", str(root), "--out", str(out),
           "--workers", "1", "--flush-seconds", "0", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(_lines(out)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    partial = _lines(out)
    assert proc.returncode == 143, err
    assert "partial index is kept" in err
    assert 3 <= len(partial) < 14
    assert all(r in _lines(whole) for r in partial)  # every flushed record is a finished one

    _, rejected, stats = index.build_index(root, out, workers=1, quiet=True)
    assert stats["reused"] >= len(partial) and stats["probed"] == 15 - stats["reused"]
    assert _lines(out) == _lines(whole)
    assert _lines(index.report_path(out)) == _lines(index.report_path(whole))
    assert [r["path"].rsplit("/", 1)[-1] for r in rejected] == ["broken.mp4"]


def test_the_index_is_flushed_while_probing(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    for i in range(3):
        write_video(root / f"v{i}.mp4", audio=False, n_frames=3)
    seen = []
    real = index.write_jsonl

    def spy(path, records):
        seen.append((Path(path).name, len(records)))
        real(path, records)

    index.write_jsonl = spy
    try:
        index.build_index(root, tmp_path / "i.jsonl", workers=1, quiet=True, flush_s=0)
    finally:
        index.write_jsonl = real
    assert [n for name, n in seen if name == "i.jsonl"] == [1, 2, 3, 3]
