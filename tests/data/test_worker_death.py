"""Workers die with their parent, also when it is killed with SIGKILL (prctl PDEATHSIG)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from multiview.data.workers import death_signal, die_with_parent

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def loader_workers(pid: int) -> set[int]:
    """``pid``'s DataLoader workers that have run their ``worker_init_fn`` (it ignores SIGTERM, then
    asks to die with the parent; a spawned worker still importing has not yet asked). Not the
    resource tracker, which ignores SIGTERM too and ends when the last worker holding it has."""
    found = set()
    for k in children(pid):
        try:
            status = Path(f"/proc/{k}/status").read_text()
            if b"spawn_main" not in Path(f"/proc/{k}/cmdline").read_bytes():
                continue
        except OSError:
            continue
        ignored = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigIgn:")), 0)
        if ignored & (1 << (signal.SIGTERM - 1)):
            found.add(k)
    return found


def kill_and_check(proc: subprocess.Popen, want: int, started: float, limit: float = 240, which=children) -> None:
    """Wait until ``proc`` has ``want`` children (of ``which`` kind), SIGKILL it, and require them gone
    within 5 s."""
    kids: set[int] = set()
    while len(kids) < want and proc.poll() is None and time.monotonic() - started < limit:
        time.sleep(0.2)
        try:
            kids = which(proc.pid)
        except OSError:
            kids = set()
    assert len(kids) >= want, (proc.poll(), proc.stderr.read().decode()[-3000:] if proc.poll() is not None else "")
    time.sleep(1.0)  # the workers are past their init function
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while any(alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [k for k in kids if alive(k)]
    for k in survivors:  # leave nothing behind even when the test fails
        os.kill(k, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their killed parent"


def test_die_with_parent_sets_the_death_signal():
    script = ("from multiview.data.workers import die_with_parent, death_signal;"
              "import os; print(death_signal(), die_with_parent(os.getppid()), death_signal())")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "True", str(int(signal.SIGKILL))]
    assert death_signal() == 0 and die_with_parent  # this process is left as it was


def test_fit_loader_workers_die_when_fit_is_sigkilled(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "multiview.cli.main", "fit", "--config", str(REPO / "recipes" / "quickstart.yaml"),
         "--data.n_clips", "24", "--data.val_clips", "4", "--data.batch_size", "4", "--data.num_workers", "2",
         "--trainer.max_epochs", "1000", "--trainer.callbacks", "[]", "--trainer.default_root_dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        kill_and_check(proc, 1, time.monotonic(), which=loader_workers)  # workers: at most the CPUs less one
    finally:
        if proc.poll() is None:
            proc.kill()


def test_index_probes_die_when_the_indexer_is_sigkilled(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("hang_a.mp4", "hang_b.mp4"):
        (folder / name).write_bytes(b"x" * 100)
    script = ("import sys; sys.path.insert(0, sys.argv[1]);"
              "from tests.av_media import hanging_probe; from multiview.data.video.index import build_index;"
              "from pathlib import Path;"
              "build_index(Path(sys.argv[2]), Path(sys.argv[3]), 2, probe=hanging_probe, quiet=True, timeout=600)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(REPO), str(folder), str(tmp_path / "i.jsonl")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        # the pool's children: its two probes (the resource tracker is spawned by the pool too)
        kill_and_check(proc, 2, time.monotonic(), limit=60)
    finally:
        if proc.poll() is None:
            proc.kill()
