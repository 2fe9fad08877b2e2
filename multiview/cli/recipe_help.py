"""``multiview fit --config RECIPE --help``: every knob of the recipe's method and data, with the recipe's values.

Each option's text is the ``Args:`` line of its class's docstring (read by jsonargparse through
docstring_parser); its default is the recipe's value where the recipe sets one, else the class's.
A class's own defaults are what ``--model.help CLASS`` shows; a user reading a recipe's help wants
the values that recipe trains with (``corpus: lee``, not the class's ``enwiki``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from jsonargparse import ArgumentParser

from multiview.core.errors import UserError

SECTIONS = ("model", "data")


def read_recipe(path: str) -> dict:
    """The recipe's YAML as a dict; a file that cannot be read or is not a mapping is one UserError."""
    try:
        recipe = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"--config {path}: cannot read ({e})") from None
    if not isinstance(recipe, dict):
        raise UserError(f"--config {path}: expected a YAML mapping of sections (model, data, trainer), "
                        f"got {type(recipe).__name__}")
    return recipe


def _class(path: str, section: str, class_path: str) -> type:
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise UserError(f"{path}: {section}.class_path: cannot import {class_path!r}") from None


def section_parser(path: str, section: str, spec: dict, prog: str) -> ArgumentParser:
    """A parser of ``--SECTION.KEY`` for the class ``spec`` names, its defaults set to ``spec``'s init_args."""
    class_path = spec["class_path"]
    parser = ArgumentParser(prog=prog, add_help=False,
                            description=f"{section}: {class_path}, defaults from {path}")
    parser.add_class_arguments(_class(path, section, class_path), section, fail_untyped=False, sub_configs=True)
    init_args = spec.get("init_args") or {}
    if not isinstance(init_args, dict):
        raise UserError(f"{path}: {section}.init_args: expected a mapping of keys to values, got {init_args!r}")
    known = {action.dest for action in parser._actions}
    for key, value in init_args.items():
        if f"{section}.{key}" in known:  # an unknown key is refused, with its name, when the recipe runs
            parser.set_defaults({f"{section}.{key}": value})
    return parser


def recipe_help_text(path: str, command: str = "fit") -> str:
    """The help of the recipe's model and data sections, each option's default the recipe's value."""
    recipe = read_recipe(path)
    parts = []
    for section in SECTIONS:
        spec = recipe.get(section)
        if isinstance(spec, dict) and isinstance(spec.get("class_path"), str):
            parser = section_parser(path, section, spec, f"multiview {command} --config {path}")
            parts.append(parser.format_help())
    if not parts:
        return ""
    parts.append(f"Trainer options (--trainer.*): multiview {command} --help")
    return "\n".join(parts)


def config_path(argv: list[str]) -> str | None:
    """The first ``--config PATH`` or ``--config=PATH`` of ``argv``."""
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.partition("=")[2]
    return None


def recipe_help(argv: list[str]) -> None:
    """Print the recipe's help; a recipe without a model or data class gets Lightning's own help."""
    from multiview.cli.trainer import run_lightning_cli

    path = config_path(argv)
    text = recipe_help_text(path, argv[0]) if path else ""
    if text:
        print(text)
    else:
        run_lightning_cli(argv)
