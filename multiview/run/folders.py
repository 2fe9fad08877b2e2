"""One folder per run, never shared, and a resume that keeps the first run's config.

:func:`new_run_folder` creates ``RUNS/<recipe>/<timestamp>`` exclusively; a second run started in
the same second gets ``<timestamp>-2`` (then ``-3``, ...). The processes a multi-GPU run launches
inherit the folder through ``MULTIVIEW_RUN_DIR`` instead of making their own.
:func:`config_name` is ``config.yaml`` for a new run and ``config-resume-N.yaml`` for the N-th
resume of a run folder that already has one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "MULTIVIEW_RUN_DIR"


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
        return folder
    raise FileExistsError(f"{parent}: no free run folder name for {stamp}")


def config_name(run_dir: Path, resuming: bool) -> str:
    """``config.yaml``, or ``config-resume-N.yaml`` when resuming a run that has its config."""
    if not resuming or not (Path(run_dir) / "config.yaml").exists():
        return "config.yaml"
    n = 1
    while (Path(run_dir) / f"config-resume-{n}.yaml").exists():
        n += 1
    return f"config-resume-{n}.yaml"
