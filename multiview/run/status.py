"""How a run stopped, for the command's exit status (kept free of heavy imports for the CLI).

A run stopped by a signal exits with ``128 + signal number``, as a shell reports it: 130 after
Ctrl-C (SIGINT), 143 after SIGTERM, 138 after SIGUSR1 (save and requeue), so schedulers and
scripts can tell a stopped run, to be resumed, from a finished one.
"""

from __future__ import annotations

import signal

_stopped_by: list[int] = []


def record(signum: int) -> None:
    if not _stopped_by:
        _stopped_by.append(int(signum))


def stopped_by() -> int | None:
    """The first stop signal this process received during a fit, if any."""
    return _stopped_by[0] if _stopped_by else None


def exit_status(default: int | None = None) -> int | None:
    signum = stopped_by()
    return 128 + signum if signum is not None else default


def reset() -> None:
    _stopped_by.clear()


def describe(signum: int) -> str:
    return signal.Signals(signum).name
