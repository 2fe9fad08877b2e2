"""``multiview fit --config R --help``: the recipe's values as defaults, and one line of text for every option."""

import inspect
import re
from pathlib import Path

import pytest
import yaml

from multiview.cli.main import main
from multiview.cli.recipe_help import _class, recipe_help_text

RECIPES = sorted(Path("recipes").glob("*.yaml"))
OPTION = re.compile(r"^  (--[\w.]+)(?: \S+)?(?:  +(.*))?$")


def entries(text: str) -> dict[str, str]:
    """Each ``--option`` of an argparse help text and its whole text, ``(type: ..., default: ...)`` included."""
    found, current = {}, None
    for line in text.splitlines():
        match = OPTION.match(line)
        if match:
            current = match.group(1)
            found[current] = match.group(2) or ""
        elif current and line.startswith(" " * 6) and line.strip():
            found[current] += " " + line.strip()
        else:
            current = None
    return found


def options(text: str) -> dict[str, str]:
    """Each option's description, the ``(type: ...)`` tail removed."""
    return {k: re.sub(r"\(type: .*", "", v, flags=re.S).strip() for k, v in entries(text).items()}


def default_shown(text: str, option: str) -> str:
    match = re.search(r"\(type: .*?, default: (.*)\)$", entries(text)[option])
    assert match, f"{option}: no default in the help"
    return match.group(1)


def recipe_value(recipe: str, section: str, key: str):
    spec = yaml.safe_load(Path(recipe).read_text())[section]
    cls_default = inspect.signature(_class(recipe, section, spec["class_path"])).parameters[key].default
    return spec["init_args"][key], cls_default


@pytest.mark.parametrize("recipe, key", [("recipes/word2vec_text.yaml", "corpus"),
                                         ("recipes/ambient_sound_folder.yaml", "frame_size")])
def test_help_shows_the_recipes_value_not_the_class_default(recipe, key, capsys):
    value, class_default = recipe_value(recipe, "data", key)
    assert value != class_default  # the fault: help showed the class's default
    assert main(["fit", "--config", recipe, "--help"]) == 0
    out = capsys.readouterr().out
    assert default_shown(out, f"--data.{key}") == str(value)
    assert options(out)[f"--data.{key}"]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_option_of_a_recipe_has_a_description(recipe):
    described = options(recipe_help_text(str(recipe)))
    data = [k for k in described if k.startswith("--data.")]
    assert data and any(k.startswith("--model.") for k in described)
    assert [k for k, text in described.items() if not text] == []


class Undocumented:
    """A class whose docstring explains none of its arguments."""

    def __init__(self, size: int = 1, name: str = "a"):
        self.size, self.name = size, name


def test_an_option_without_a_docstring_line_is_found(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"class_path": f"{__name__}.Undocumented",
                                               "init_args": {"size": 7, "unknown_key": 1}}}))
    text = recipe_help_text(str(recipe))
    assert default_shown(text, "--data.size") == "7"
    assert {k for k, v in options(text).items() if not v} == {"--data.size", "--data.name"}


def test_unreadable_recipe_is_one_line(tmp_path, capsys):
    assert main(["fit", "--config", str(tmp_path / "missing.yaml"), "--help"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.yaml" in err
