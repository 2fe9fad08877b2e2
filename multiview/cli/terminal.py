"""A quiet terminal: a run prints our progress, our report and our errors.

Unless ``--verbose`` (anywhere on the command line) or ``MULTIVIEW_VERBOSE=1``, Lightning's
informational lines (``GPU available: ...``, ``Seed set to ...``, the model summary, its
advertising tips) and third-party deprecation warnings (torch's ``_pytree`` one, seen through
Lightning) are not shown. Lightning's warnings about the user's own settings still are.
"""

from __future__ import annotations

import logging
import os
import warnings

VERBOSE_FLAG = "--verbose"
QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric")


def take_verbose(argv: list[str]) -> tuple[list[str], bool]:
    """``(argv without --verbose, whether verbose)``; ``MULTIVIEW_VERBOSE=1`` also turns it on."""
    verbose = VERBOSE_FLAG in argv or os.environ.get("MULTIVIEW_VERBOSE", "") not in ("", "0")
    return [a for a in argv if a != VERBOSE_FLAG], verbose


def quiet_third_party() -> None:
    """Silence Lightning's info lines and third-party deprecation warnings in this process (and
    in the data-loader workers it forks)."""
    import lightning.pytorch  # noqa: F401  (sets its loggers to INFO on import; override after)

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", message=r".*\bis deprecated\b")
