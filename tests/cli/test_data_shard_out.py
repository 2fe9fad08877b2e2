"""``multiview data shard``: an ``--out`` holding the user's own files is refused and left as it
was; a run killed with SIGKILL leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from multiview.cli.main import main as cli_main
from multiview.core.outputs import MARKER
from tests.av_media import write_video
from tests.small_shards import _shared


def index_of_small_videos(tmp_path_factory) -> Path:
    return _shared(str(tmp_path_factory.getbasetemp())).parent / "videos" / "index.jsonl"


def snapshot(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_an_out_folder_laid_out_as_a_dataset_is_refused_and_kept(tmp_path_factory, tmp_path, capsys):
    dataset = tmp_path / "dataset"
    for split in ("train", "val"):
        (dataset / split).mkdir(parents=True)
        write_video(dataset / split / f"{split}.mp4", n_frames=5, click_frame=None)
        (dataset / split / "notes.txt").write_text(f"my notes on {split}")
    before = snapshot(dataset)
    code = cli_main(["data", "shard", str(index_of_small_videos(tmp_path_factory)), "--out", str(dataset),
                     "--frame_size", "16"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"--out {dataset}: holds files multiview did not write" in err
    assert snapshot(dataset) == before and not (dataset / MARKER).exists()


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """{pid: start time} of every living descendant of ``root``."""
    table = {int(p): _stat(int(p)) for p in os.listdir("/proc") if p.isdigit()}
    table = {p: s for p, s in table.items() if s is not None}
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (_, ppid, start) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def alive(pid: int, start: int) -> bool:
    s = _stat(pid)
    return s is not None and s[2] == start and s[0] not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sigkill_leaves_no_shard_worker_running(tmp_path_factory, tmp_path):
    cmd = [sys.executable, "-m", "multiview.cli.main", "data", "shard", str(index_of_small_videos(tmp_path_factory)),
           "--out", str(tmp_path / "out"), "--frame_size", "16", "--clips_per_video", "200", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    seen: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            seen.update(descendants(proc.pid))
            workers = [p for p in seen if b"spawn_main" in _cmdline(p)]
            if len(workers) >= 2 and (tmp_path / "out" / ".parts").is_dir():  # litdata's cutters (and chunk writer)
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(1.0)
        seen.update(descendants(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(alive(p, s) for p, s in seen.items()):
            time.sleep(0.2)
        left = {p: _cmdline(p)[:120] for p, s in seen.items() if alive(p, s)}
        assert not left, f"still running after the parent was killed: {left}"
    finally:
        for pid, start in seen.items():  # only what this test started
            if alive(pid, start):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
