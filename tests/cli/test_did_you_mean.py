"""A misspelt command, tool or option ends with one line and the closest spelling (difflib)."""

from __future__ import annotations

from pathlib import Path

import pytest

from multiview.cli.main import main

QUICKSTART = str(Path(__file__).resolve().parents[2] / "recipes" / "quickstart.yaml")


@pytest.mark.parametrize("argv, hint", [
    (["fti"], "unknown command 'fti' (did you mean 'fit'?)"),
    (["eval", "prbe"], "unknown eval command 'prbe' (did you mean 'probe'?)"),
    (["data", "idnex"], "unknown data command 'idnex' (did you mean 'index'?)"),
    (["fit", "--config", QUICKSTART, "--dat.index", "x"], "--dat.index x (did you mean '--data.index'?)"),
    (["fit", "--config", QUICKSTART, "--trainer.max_epocs", "1"], "(did you mean '--trainer.max_epochs'?)"),
    (["fit", "--config", QUICKSTART, "--data.n_clip", "1"], "data.n_clip: unknown key (did you mean 'n_clips'?)"),
    (["eval", "probe", "--checkpoint", "x", "--tset-limit", "3"], "--tset-limit 3 (did you mean '--test-limit'?)"),
])
def test_typos_get_the_closest_spelling(argv, hint, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert hint in err, err


def test_no_hint_for_a_word_close_to_nothing(capsys):
    assert main(["zzzzzz"]) == 2
    assert "did you mean" not in capsys.readouterr().err
