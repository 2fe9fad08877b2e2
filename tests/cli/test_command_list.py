"""The one line an unknown command gets lists every command, comma-separated."""

from __future__ import annotations

from multiview.cli.main import main


def test_unknown_command_lists_every_command_with_commas(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    listed = err.split("expected ", 1)[1].split(" (multiview --help)")[0]
    names = [n.strip() for n in listed.replace(" or ", ", ").split(",")]
    assert all(n.isidentifier() for n in names), names  # "export runs" would be one name with a space
    assert {"export", "runs", "bench", "study"} <= set(names)
