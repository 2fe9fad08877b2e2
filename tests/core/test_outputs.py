"""Output folders: a new or empty one is claimed with a marker; one holding files the suite did
not write, or files another command wrote, is refused before anything in it changes."""

from __future__ import annotations

import pytest

from multiview.core.errors import UserError
from multiview.core.outputs import MARKER, claim_output, marker_command


def snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_new_or_empty_folder_is_claimed_and_can_be_claimed_again(tmp_path):
    (tmp_path / "empty").mkdir()
    for name in ("new/deeper", "empty"):
        out = claim_output(tmp_path / name, "data shard")
        assert marker_command(out) == "data shard" and (out / MARKER).is_file()
        (out / "result.json").write_text("{}")
        assert claim_output(out, "data shard") == out  # a re-run or a resume of the same command


def test_a_folder_of_the_users_files_is_refused_and_left_as_it_was(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.mp4").write_bytes(b"video")
    (tmp_path / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match=f"--out {tmp_path}: holds files multiview did not write"):
        claim_output(tmp_path, "data shard")
    assert snapshot(tmp_path) == before and not (tmp_path / MARKER).exists()


@pytest.mark.parametrize("marker", ["not json", '{"command": 3}', "[]"])
def test_an_unreadable_marker_is_no_marker(tmp_path, marker):
    (tmp_path / MARKER).write_text(marker)
    with pytest.raises(UserError, match="did not write"):
        claim_output(tmp_path, "data shard")


def test_another_commands_folder_and_a_file_are_refused(tmp_path):
    out = claim_output(tmp_path / "targets", "data ambient-targets")
    (out / "targets.pt").write_bytes(b"x")
    with pytest.raises(UserError, match="was written by `multiview data ambient-targets`"):
        claim_output(out, "data shard")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        claim_output(tmp_path / "file", "data shard", option="--output")
