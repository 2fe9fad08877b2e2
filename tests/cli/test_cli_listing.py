"""The command surface: groups list their commands, and a recipe's --help explains every knob."""

import pytest

from multiview.cli.commands import DATA, EVAL
from multiview.cli.main import main


@pytest.mark.parametrize("group, table", [("eval", EVAL), ("data", DATA)])
@pytest.mark.parametrize("flag", [[], ["--help"]])
def test_groups_list_their_commands_one_line_each(group, table, flag, capsys):
    assert main([group, *flag]) == 0
    out = capsys.readouterr().out
    for name, command in table.items():
        assert any(line.split()[:1] == [name] and command.help in line for line in out.splitlines()), name


def test_top_level_help_names_every_group(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n  {c} " in out for c in ("fit", "validate", "test", "data", "eval", "export", "runs", "bench"))


def test_unknown_command_is_one_line(capsys):
    assert main(["eval", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown eval command 'nope'" in err and "probe" in err


@pytest.mark.slow
def test_recipe_help_explains_method_and_data_knobs(capsys):
    assert main(["fit", "--config", "recipes/quickstart.yaml", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--model.temperature TEMPERATURE softmax temperature tau of Eq. 2." in out
    assert "--model.lr LR peak learning rate" in out
    assert "--data.val_clips VAL_CLIPS clips held out for evaluation" in out
