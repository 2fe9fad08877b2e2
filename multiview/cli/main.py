"""The ``multiview`` command.

``multiview fit|validate|test --config recipes/NAME.yaml [--section.key value ...]`` runs a
recipe through Lightning's CLI (``--print_config`` shows the resolved recipe). After ``fit`` the
method's end-of-fit report is written to ``RUN/metrics.json`` and the run folder is printed.
``multiview data`` and ``multiview eval`` list their commands (:mod:`multiview.cli.commands`);
``multiview data NAME ...`` and ``multiview eval NAME ...`` run one. ``multiview fit --config R
--help`` explains every knob of the recipe's method and data. ``multiview export``, ``multiview runs`` and
``multiview bench`` run :mod:`multiview.cli.export`, :mod:`multiview.cli.runs` and
:mod:`multiview.cli.bench`. ``--verbose`` anywhere shows Lightning's
informational lines (:mod:`multiview.cli.terminal`). Bad input ends with one line,
``multiview: error: ...``, exit 2; a fit
stopped by a signal exits with 128 + its number (130 Ctrl-C, 143 SIGTERM; ``multiview.run.status``).
A misspelt command or option gets ``did you mean ...?`` (:func:`did_you_mean`); a command that fails
before writing into its new run folder removes it (:func:`multiview.run.folders.remove_empty_folders`).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import re
import sys

from PIL.Image import DecompressionBombError

from multiview.cli.commands import GROUPS, listing
from multiview.cli.terminal import quiet_third_party, take_verbose
from multiview.core.errors import UserError
from multiview.run import status as run_status
from multiview.run.folders import remove_empty_folders

TRAINER_COMMANDS = ("fit", "validate", "test")
# What a third-party reader raises on a bad user file that our code did not name as a UserError
# (gzip's BadGzipFile is an OSError, UnicodeDecodeError a ValueError): still one line, not a traceback.
READER_FAULTS = (ValueError, OSError, EOFError, DecompressionBombError)
TOP_COMMANDS = ("export", "runs", "bench", "study")
# A bad-input message of ours (``model.view: expected ...``) inside jsonargparse's list of Union errors.
OUR_MESSAGE = re.compile(r"(?:^|\s- )((?:model|data|trainer)\.[\w.-]+: .*?)"
                         r"(?=\s+- |\s+Expected a <class|\s+Given value|\s+Subtypes|$)", re.S)


SECTIONS = ("config", "print_config", "seed_everything", "trainer", "model", "data", "ckpt_path", "optimizer",
            "lr_scheduler")
UNRECOGNIZED = re.compile(r"unrecognized arguments: (--[\w.-]+)")


def did_you_mean(word: str, choices) -> str:
    """``" (did you mean 'X'?)"`` for the closest of ``choices`` (difflib), else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _trainer_option_hint(option: str) -> str:
    """A close spelling of a ``--section.key`` option of the trainer commands."""
    section, _, rest = option.lstrip("-").partition(".")
    if section not in SECTIONS:
        close = difflib.get_close_matches(section, SECTIONS, n=1, cutoff=0.6)
        return f" (did you mean '--{close[0]}{'.' + rest if rest else ''}'?)" if close else ""
    if section == "trainer" and rest:
        import inspect

        from lightning import Trainer

        return did_you_mean(option, [f"--trainer.{p}" for p in inspect.signature(Trainer).parameters])
    return ""


def _suggesting_error(original):
    """argparse's ``error`` with ``did you mean --X?`` after an unrecognized option (the tools' parsers)."""

    def error(self, message):
        unknown = UNRECOGNIZED.search(message)
        if unknown:
            options = [o for o in self._option_string_actions if o.startswith("--")]
            message += did_you_mean(unknown.group(1).split("=")[0], options)
        original(self, message)

    return error


def _fail(message: str) -> int:
    message = " ".join(message.split())
    print(f"multiview: error: {message}", file=sys.stderr)
    return 2


USAGE = """usage: multiview COMMAND ...

commands:
  fit        train a recipe: multiview fit --config recipes/NAME.yaml [--model.KEY VALUE ...]
  validate   run a recipe's validation loop on a checkpoint (--ckpt_path)
  test       run a recipe's test loop on a checkpoint (--ckpt_path)
  data       prepare data: index a video folder, vocabularies, targets (multiview data lists them)
  eval       evaluate a trained run: probe, knn, finetune, retrieval, ... (multiview eval lists them)
  export     write a run's encoder as a plain state_dict (torchvision's for ResNets) with a JSON card
  runs       list runs with their status and headline metric; runs compare RUN... for a table and chart
  bench      time a recipe: samples/s, data wait vs compute, FLOP utilisation on a GPU
  study      run recipes x overrides x seeds (locally or on Slurm); mean, sd and intervals over seeds

multiview fit --config RECIPE --help explains every knob of the recipe's method and data."""


def _run_tool(group: str, argv: list[str]) -> int:
    from multiview.eval.core.trust import take_allow_options

    argv = take_allow_options(argv)  # --allow-class PATH: a class a run folder may name (multiview.eval.core.trust)
    table = GROUPS[group]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(listing(group))
        return 0
    name = argv[0]
    if name not in table:
        raise UserError(f"unknown {group} command {name!r}{did_you_mean(name, table)}; "
                        f"expected one of {', '.join(table)}")
    module = importlib.import_module(table[name].module)
    return int(module.main(argv[1:]) or 0)


def _recipe_help(argv: list[str]) -> None:
    """The help of the recipe's method and data classes, with the recipe's values (:mod:`multiview.cli.recipe_help`)."""
    from multiview.cli.recipe_help import recipe_help

    recipe_help(argv)


def _short_parser_error(text: str) -> str:
    """One line from jsonargparse's multi-line error: the full key, and what was expected."""
    text = str(text)
    ours = OUR_MESSAGE.search(text)  # a UserError raised while jsonargparse tried each type of a Union
    if ours:
        return ours.group(1).strip()
    keys = re.findall(r'Parser key "([^"]+)"', text) or re.findall(r'Key "([^"]+)"', text)
    key = ".".join(dict.fromkeys(keys))
    unknown = re.search(r"Option '([^']+)' is not accepted", text)
    cls = re.search(r"class_path '([^']+)'", text)
    if unknown:
        key = f"{key}.{unknown.group(1)}" if key else unknown.group(1)
        accepted = _accepted_args(cls.group(1)) if cls else ""
        hint = did_you_mean(unknown.group(1), accepted.split(", ")) if accepted else ""
        return f"{key}: unknown key{hint}" + (f" ({cls.group(1)} accepts: {accepted})" if accepted else "")
    unrecognized = UNRECOGNIZED.search(text)
    if unrecognized:
        return f"{text.strip().splitlines()[0]}{_trainer_option_hint(unrecognized.group(1))}"
    if "File does not exist" in text or "does not exist" in text.lower():
        where = re.search(r"File does not exist: (.+)", text)
        return f"{key or 'config'}: file does not exist: {where.group(1).strip() if where else text.splitlines()[-1]}"
    expected = [t for t in re.findall(r"Expected a <class '([^']+)'>", text) if t != "NoneType"]
    if expected:
        got = re.search(r"(?:Got value|Given value): (.+)", text)
        value = got.group(1).strip() if got else "?"
        return f"{key}: expected {' or '.join(dict.fromkeys(expected))}, got {value!r}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = next((ln for ln in lines[1:] if not ln.startswith(("Subtypes", "Errors", "Given value"))), "")
    return (f"{lines[0]} {detail}" if lines else text)[:300]


def _accepted_args(class_path: str) -> str:
    import inspect

    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return ""
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    return ", ".join(params)


def main(argv: list[str] | None = None) -> int:
    argv, verbose = take_verbose(list(sys.argv[1:] if argv is None else argv))
    run_status.reset()
    original_error = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = _suggesting_error(original_error)
    try:
        return _main(argv, verbose)
    finally:
        argparse.ArgumentParser.error = original_error
        remove_empty_folders()


def _main(argv: list[str], verbose: bool) -> int:
    try:
        if not verbose and argv and argv[0] in TRAINER_COMMANDS + ("eval",):
            quiet_third_party()
        if argv and argv[0] in GROUPS:
            return _run_tool(argv[0], argv[1:])
        if argv and argv[0] in TOP_COMMANDS:
            return int(importlib.import_module(f"multiview.cli.{argv[0]}").main(argv[1:]) or 0)
        if not argv or argv[0] in ("-h", "--help", "help"):
            print(USAGE)
            return 0
        if argv[0] not in TRAINER_COMMANDS:
            hint = did_you_mean(argv[0], TRAINER_COMMANDS + tuple(GROUPS) + TOP_COMMANDS)
            raise UserError(f"unknown command {argv[0]!r}{hint}; expected fit, validate, test, data, eval, export, "
                            "runs, bench or study (multiview --help)")
        from multiview.cli.trainer import run_lightning_cli

        if ("-h" in argv or "--help" in argv) and "--config" in argv:
            _recipe_help(argv)
            return 0
        run_lightning_cli(argv)
        return 0
    except UserError as e:
        return _fail(str(e))
    except SystemExit as e:
        if run_status.exit_status() is not None:
            return run_status.exit_status()
        return int(e.code or 0) if not isinstance(e.code, str) else _fail(e.code)
    except KeyboardInterrupt:
        print("multiview: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        from jsonargparse import ArgumentError

        if run_status.exit_status() is not None:  # e.g. a DataLoader worker killed by the same SIGTERM
            print(f"multiview: stopped by a signal ({type(e).__name__}: {str(e)[:200]})", file=sys.stderr)
            return run_status.exit_status()

        if isinstance(e, ArgumentError):
            return _fail(_short_parser_error(str(e)))
        if "Does not validate against any of the Union subtypes" in str(e):
            return _fail(_short_parser_error(str(e)))
        if isinstance(e, READER_FAULTS) and os.environ.get("MULTIVIEW_DEBUG") != "1":
            return _fail(f"{type(e).__name__}: {e}")
        raise


if __name__ == "__main__":
    sys.exit(main())
