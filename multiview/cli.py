"""The ``multiview`` command.

``multiview fit|validate|test --config recipes/NAME.yaml [--section.key value ...]`` runs a
recipe through Lightning's CLI (``--print_config`` shows the resolved recipe). After ``fit`` the
method's end-of-fit report is written to ``RUN/metrics.json`` and the run folder is printed.
``multiview data NAME ...`` and ``multiview eval NAME ...`` run ``multiview.data.NAME.main`` and
``multiview.eval.NAME.main``. Bad input ends with one line, ``multiview: error: ...``, exit 2; a fit
stopped by a signal exits with 128 + its number (130 Ctrl-C, 143 SIGTERM; ``multiview.run.status``).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import time
from pathlib import Path

from multiview.errors import UserError
from multiview.run import status as run_status

TRAINER_COMMANDS = ("fit", "validate", "test")
TOOL_GROUPS = ("data", "eval")


def _fail(message: str) -> int:
    message = " ".join(message.split())
    print(f"multiview: error: {message}", file=sys.stderr)
    return 2


def _run_tool(group: str, argv: list[str]) -> int:
    from multiview.trust import take_allow_options

    argv = take_allow_options(argv)  # --allow-class PATH: a class a run folder may name (multiview.trust)
    if not argv or argv[0].startswith("-"):
        raise UserError(f"usage: multiview {group} NAME [ARGS...]")
    name = argv[0]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise UserError(f"{group} command {name!r}: expected a name such as 'index' or 'probe'")
    try:
        module = importlib.import_module(f"multiview.{group}.{name}")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith(f"multiview.{group}.{name}"):
            raise UserError(f"unknown {group} command {name!r}") from None
        raise
    if not hasattr(module, "main"):
        raise UserError(f"unknown {group} command {name!r}")
    return int(module.main(argv[1:]) or 0)


def _short_parser_error(text: str) -> str:
    """One line from jsonargparse's multi-line error: the full key, and what was expected."""
    text = str(text)
    keys = re.findall(r'Parser key "([^"]+)"', text) or re.findall(r'Key "([^"]+)"', text)
    key = ".".join(dict.fromkeys(keys))
    unknown = re.search(r"Option '([^']+)' is not accepted", text)
    cls = re.search(r"class_path '([^']+)'", text)
    if unknown:
        key = f"{key}.{unknown.group(1)}" if key else unknown.group(1)
        accepted = _accepted_args(cls.group(1)) if cls else ""
        return f"{key}: unknown key" + (f" ({cls.group(1)} accepts: {accepted})" if accepted else "")
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
    argv = list(sys.argv[1:] if argv is None else argv)
    run_status.reset()
    try:
        if argv and argv[0] in TOOL_GROUPS:
            return _run_tool(argv[0], argv[1:])
        if not argv or argv[0] not in TRAINER_COMMANDS + ("-h", "--help"):
            raise UserError("usage: multiview {fit,validate,test} --config RECIPE.yaml | "
                            "multiview data NAME ... | multiview eval NAME ...")
        from multiview.trainer_cli import run_lightning_cli

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
        if type(e).__name__ in ("ValueError", "FileNotFoundError", "NotADirectoryError") and os.environ.get("MULTIVIEW_DEBUG") != "1":
            return _fail(f"{type(e).__name__}: {e}")
        raise


if __name__ == "__main__":
    sys.exit(main())
