"""Which classes a run folder's ``config.yaml`` may name.

Evaluating a run builds its model (and sometimes its data module) from the ``class_path`` in
``RUN/config.yaml``. A run folder can come from anyone, so a ``class_path`` is checked before its
module is imported: only multiview methods (``multiview.methods.*``, subclasses of
:class:`multiview.methods.base.Method`) and multiview data modules (``multiview.data.*``,
subclasses of ``LightningDataModule``) are built, plus the dotted paths the user allows with
``--allow-class PATH`` (on ``multiview eval``) or ``MULTIVIEW_ALLOW_CLASSES=PATH,PATH``.
"""

from __future__ import annotations

import importlib
import os
import re

from multiview.core.errors import UserError

ENV = "MULTIVIEW_ALLOW_CLASSES"
OPTION = "--allow-class"
TRUSTED_PACKAGES = {"multiview.methods.": "a multiview method", "multiview.data.": "a multiview data module"}
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_allowed_by_option: set[str] = set()


def allow(*class_paths: str) -> None:
    """Trust these dotted class paths for the rest of the process (what ``--allow-class`` does)."""
    for path in class_paths:
        _allowed_by_option.update(p.strip() for p in path.split(",") if p.strip())


def allowed() -> set[str]:
    """Class paths the user allowed explicitly (option and environment variable)."""
    return _allowed_by_option | {p.strip() for p in os.environ.get(ENV, "").split(",") if p.strip()}


def take_allow_options(argv: list[str]) -> list[str]:
    """Remove ``--allow-class PATH`` / ``--allow-class=PATH`` from ``argv``, trusting each PATH."""
    rest, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == OPTION:
            if i + 1 >= len(argv):
                raise UserError(f"{OPTION}: expected a dotted class path such as mypkg.models.MyMethod")
            allow(argv[i + 1])
            i += 2
            continue
        if arg.startswith(OPTION + "="):
            allow(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    return rest


def _refuse(where: str, class_path: str, why: str) -> UserError:
    return UserError(f"{where}: refusing class_path {class_path!r} ({why}); if you trust this run folder, "
                     f"allow it with {OPTION} {class_path} or {ENV}={class_path}")


def trusted_class(class_path: object, where: str) -> type:
    """The class named by ``class_path`` if it may be built, else a one-line :class:`UserError`.

    Nothing is imported for a path outside ``multiview.methods``/``multiview.data`` that the user
    did not allow.
    """
    path = str(class_path)
    if not _DOTTED.fullmatch(path):
        raise UserError(f"{where}: class_path {path!r} is not a dotted Python path")
    explicit = path in allowed()
    kind = next((k for prefix, k in TRUSTED_PACKAGES.items() if path.startswith(prefix)), None)
    if kind is None and not explicit:
        raise _refuse(where, path, "not a multiview method or data module")
    module_name, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise UserError(f"{where}: class_path {path!r} cannot be imported") from None
    if explicit:
        return cls
    if not isinstance(cls, type) or not issubclass(cls, _base_of(kind)):
        raise _refuse(where, path, f"not {kind}")
    return cls


def _base_of(kind: str) -> type:
    if kind == "a multiview method":
        from multiview.methods.base import Method

        return Method
    import lightning as L

    return L.LightningDataModule
