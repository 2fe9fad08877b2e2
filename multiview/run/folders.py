"""One folder per run, never shared, and a resume that keeps the first run's config.

:func:`new_run_folder` creates ``RUNS/<recipe>/<timestamp>`` exclusively; a second run started in
the same second gets ``<timestamp>-2`` (then ``-3``, ...). The processes a multi-GPU run launches
inherit the folder through ``MULTIVIEW_RUN_DIR`` instead of making their own. A command that fails
before the run's config is written there removes the folder again (:func:`remove_empty_folders`).
:func:`config_name` is ``config.yaml`` for a new run and ``config-resume-N.yaml`` for the N-th
resume of a run folder that already has one. :func:`logs_into` keeps a run's own loggers in its
folder also when the run folder was moved and its saved config names the old place.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

ENV = "MULTIVIEW_RUN_DIR"
_created: list[Path] = []


def new_run_folder(parent: Path, stamp: str | None = None) -> Path:
    """Create and return a fresh folder under ``parent`` named by the time (plus ``-N`` if taken)."""
    if os.environ.get("LOCAL_RANK", "0") != "0" and os.environ.get(ENV):
        return Path(os.environ[ENV])  # a process launched by rank 0 of this run
    parent.mkdir(parents=True, exist_ok=True)
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 10000):
        folder = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        os.environ[ENV] = str(folder)
        _created.append(folder)
        return folder
    raise FileExistsError(f"{parent}: no free run folder name for {stamp}")


def remove_empty_folders() -> None:
    """Remove the run folders this process created that hold no run: no ``config.yaml``, checkpoint
    or metrics yet (at most a lock and an empty TensorBoard file), and their parent if then empty."""
    while _created:
        folder = _created.pop()
        if any((folder / name).exists() for name in ("config.yaml", "checkpoints", "metrics.json")):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.parent.rmdir()  # only an empty folder goes
        except OSError:
            pass


def config_name(run_dir: Path, resuming: bool) -> str:
    """``config.yaml``, or ``config-resume-N.yaml`` when resuming a run that has its config."""
    if not resuming or not (Path(run_dir) / "config.yaml").exists():
        return "config.yaml"
    n = 1
    while (Path(run_dir) / f"config-resume-{n}.yaml").exists():
        n += 1
    return f"config-resume-{n}.yaml"


RUN_LOGGERS = ("multiview.run.csv_logger.ResumableCSVLogger", "lightning.pytorch.loggers.TensorBoardLogger")


def logs_into(loggers, run_dir: str) -> None:
    """Point the run's own loggers (those the CLI adds: ``name`` and ``version`` empty) at ``run_dir``.

    A run folder's ``config.yaml`` names the folder it was written in; resumed from there after a
    move, the logs (and the checkpoints, which follow the first logger) would go back to the old place.
    """
    for logger in loggers if isinstance(loggers, list) else []:
        args = getattr(logger, "init_args", None)
        if getattr(logger, "class_path", None) in RUN_LOGGERS and args is not None \
                and not args.get("name") and not args.get("version"):
            args.save_dir = run_dir
