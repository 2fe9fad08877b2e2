"""Writes that cannot happen end in one line and leave nothing half-written: a full disk at a
checkpoint write, a read-only run folder, and a --ckpt_path file that would need pickle to load
(never unpickled). Faults are injected where a test cannot make them (a full disk; root ignores chmod)."""

from __future__ import annotations

import errno
import io
import os
import tempfile
from pathlib import Path

import pytest
import torch

from multiview.cli.main import main as cli_main
from multiview.core.errors import UserError
from multiview.core.io import atomic_write
from multiview.run import lock
from multiview.run.checkpoints import AtomicCheckpointIO
from tests.faults import cmc_recipe


class FillsUp(io.RawIOBase):
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def writable(self):
        return True

    def write(self, data):
        if len(data) > self.room:
            self.f.write(bytes(data[: self.room]))
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.f.write(data)


def fill_disk_at_checkpoint(monkeypatch, nth: int) -> None:
    """The ``nth`` checkpoint written from here on hits a full disk after 1 KB."""
    real, count = torch.save, [0]

    def save(obj, f, *args, **kwargs):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{f.fileno()}")) if hasattr(f, "fileno") else ""
        if ".ckpt." in name:
            count[0] += 1
            if count[0] == nth:
                f = FillsUp(f, 1024)
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


def error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("multiview: error:")]
    assert len(lines) == 1, lines
    return lines[0]


def no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_at_a_checkpoint_write_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, target)
    fill_disk_at_checkpoint(monkeypatch, 1)
    with pytest.raises(UserError, match=f"{target}: not written: the disk is full"):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(100_000)}}, target)
    assert torch.equal(torch.load(target, weights_only=True)["state_dict"]["w"], torch.zeros(3))
    assert no_temporaries(tmp_path)


@pytest.mark.slow
def test_a_fit_whose_disk_fills_at_a_checkpoint_stops_in_one_line(tmp_path, monkeypatch, capsys):
    recipe, run = cmc_recipe(tmp_path / "tiny.yaml", epochs=2), tmp_path / "run"
    fill_disk_at_checkpoint(monkeypatch, 3)  # epoch 0's two files are written, epoch 1's first is not
    assert cli_main(["fit", "--config", str(recipe), "--trainer.default_root_dir", str(run)]) == 2
    line = error_line(capsys)
    assert "the disk is full" in line and str(run / "checkpoints") in line
    ckpts = run / "checkpoints"
    assert no_temporaries(ckpts)
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 5  # epoch 0's, whole


def read_only(folder: Path, monkeypatch) -> None:
    """Make ``folder`` read-only; where chmod does not stop this process (root), refuse its writes."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    try:
        (folder / ".probe").touch()
    except PermissionError:
        return
    (folder / ".probe").unlink()
    real_open, real_mkstemp = open, tempfile.mkstemp

    def refuse(path):
        if Path(path).resolve().is_relative_to(folder.resolve()):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(lock, "open", lambda p, *a, **k: (refuse(p), real_open(p, *a, **k))[1], raising=False)
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, dir=None, **k: (refuse(dir), real_mkstemp(*a, dir=dir, **k))[1])


def test_a_write_into_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    read_only(folder, monkeypatch)
    try:
        with pytest.raises(UserError, match=f"{folder / 'metrics.json'}: not written: {folder} is read-only"):
            atomic_write(folder / "metrics.json", lambda f: f.write(b"{}"))
    finally:
        folder.chmod(0o755)
    assert not list(folder.iterdir())


def test_a_fit_into_a_read_only_run_folder_is_one_line(tmp_path, monkeypatch, capsys):
    recipe, run = cmc_recipe(tmp_path / "tiny.yaml", epochs=1), tmp_path / "run"
    read_only(run, monkeypatch)
    try:
        assert cli_main(["fit", "--config", str(recipe), "--trainer.default_root_dir", str(run)]) == 2
    finally:
        run.chmod(0o755)
    assert f"{run}: cannot write the run folder: it is read-only" in error_line(capsys)
    assert not list(run.iterdir())


class Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("zip_format", [True, False])
@pytest.mark.parametrize("command", ["fit", "validate"])
def test_a_pickled_checkpoint_is_refused_and_never_unpickled(tmp_path, capsys, zip_format, command):
    marker, ckpt = tmp_path / "payload-ran", tmp_path / "shared.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "extra": Payload(marker)}, ckpt,
               _use_new_zipfile_serialization=zip_format)
    recipe = cmc_recipe(tmp_path / "tiny.yaml", epochs=1)
    argv = [command, "--config", str(recipe), "--trainer.default_root_dir", str(tmp_path / "run"),
            "--ckpt_path", str(ckpt)]
    assert cli_main(argv) == 2
    assert f"--ckpt_path {ckpt}: not a safe checkpoint" in error_line(capsys)
    assert not marker.exists()
