"""A study stopped by SIGTERM or SIGINT (also a SIGINT a shell's background job ignores) stops its
fits, which save last.ckpt, waits for them and exits 128 + the signal; restarted, it resumes them
from last.ckpt and leaves alone a run folder whose .fit.lock a live fit holds."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from multiview.cli import study
from multiview.cli.main import main

REPO = Path(__file__).resolve().parents[2]
SLOW_FIT = '''
import fcntl, os, signal, sys, time, pathlib
argv = sys.argv[1:]
run = pathlib.Path(argv[argv.index("--trainer.default_root_dir") + 1])
lock = open(run / ".fit.lock", "a+"); fcntl.flock(lock, fcntl.LOCK_EX); lock.write(f"{os.getpid()}\\n"); lock.flush()
with open(pathlib.Path(sys.argv[0]).with_name("calls.txt"), "a") as f:
    f.write(f"{run.name} {'resume' if '--ckpt_path' in argv else 'fresh'} {os.getpid()}\\n")
if "--ckpt_path" in argv or pathlib.Path(sys.argv[0]).with_name("fast").exists():
    (run / "metrics.json").write_text('{"loss": 1.0}')
    sys.exit(0)
def save(signum, frame):
    (run / "checkpoints").mkdir(exist_ok=True)
    (run / "checkpoints" / "last.ckpt").write_text("saved")
    sys.exit(128 + signum)
signal.signal(signal.SIGTERM, save)
time.sleep(120)
'''
STUDY = '''
import sys
from multiview.cli import study
from multiview.cli.main import main
real = study.Run.command
study.Run.command = lambda self: [sys.executable, sys.argv[1], *real(self)[3:]]
sys.exit(main(["study", *sys.argv[2:]]))
'''


def _calls(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout[:1] != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_study_stops_its_fits_and_resumes_them(tmp_path, monkeypatch, capsys, signum):
    script, calls, out = tmp_path / "slow_fit.py", tmp_path / "calls.txt", tmp_path / "out"
    script.write_text(SLOW_FIT)
    spec = tmp_path / "study.yaml"
    spec.write_text(f"recipes: [{REPO / 'recipes' / 'quickstart.yaml'}]\nseeds: [0, 1, 2]\n")
    ignore_int = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if signum == signal.SIGINT else None
    proc = subprocess.Popen([sys.executable, "-c", STUDY, str(script), str(spec), "--out", str(out), "--jobs", "2"],
                            preexec_fn=ignore_int, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(_calls(calls)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, err
    assert f"stopped by {signal.Signals(signum).name}" in err
    started = _calls(calls)
    assert len(started) == 2 and not any(_alive(int(pid)) for _, _, pid in started)  # no orphan fit
    for name, _, _ in started:
        assert (out / "runs" / name / "checkpoints" / "last.ckpt").read_text() == "saved"
    monkeypatch.setattr(study.Run, "command",
                        lambda self: [sys.executable, str(script), "--trainer.default_root_dir", str(self.folder)])
    (tmp_path / "fast").touch()
    calls.unlink()
    assert main(["study", str(spec), "--out", str(out)]) == 0
    again = {name: how for name, how, _ in _calls(calls)}
    resumed = {name for name, _, _ in started}
    assert again == {f"quickstart-seed{s}": "resume" if f"quickstart-seed{s}" in resumed else "fresh" for s in range(3)}
    assert all((out / "runs" / name / "checkpoints" / "last.ckpt").exists() for name, _, _ in started)


def test_a_restart_leaves_alone_a_run_folder_a_live_fit_holds(tmp_path, monkeypatch, capsys):
    script, calls, out = tmp_path / "slow_fit.py", tmp_path / "calls.txt", tmp_path / "out"
    script.write_text(SLOW_FIT.replace("time.sleep(120)", "(run / 'metrics.json').write_text('{\"loss\": 1.0}')"))
    monkeypatch.setattr(study.Run, "command",
                        lambda self: [sys.executable, str(script), "--trainer.default_root_dir", str(self.folder)])
    spec = tmp_path / "study.yaml"
    spec.write_text(f"recipes: [{REPO / 'recipes' / 'quickstart.yaml'}]\nseeds: [0, 1]\n")
    assert main(["study", str(spec), "--out", str(out)]) == 0
    held = out / "runs" / "quickstart-seed0"
    (held / "metrics.json").unlink()
    (out / "runs" / "quickstart-seed1" / "metrics.json").unlink()
    (held / "config.yaml").write_text("kept")
    calls.unlink()
    with open(held / ".fit.lock", "a+") as lock:  # the orphan fit of a killed study, still writing
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        assert main(["study", str(spec), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"quickstart-seed0: skipped: a live fit (pid {os.getpid()}) holds {held / '.fit.lock'}" in err
    assert (held / "config.yaml").read_text() == "kept" and [c[0] for c in _calls(calls)] == ["quickstart-seed1"]
