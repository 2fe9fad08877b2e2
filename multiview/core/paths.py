"""Where the suite keeps its caches and run folders (never inside the package or the repo)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(option: str | os.PathLike | None = None) -> Path:
    """Where shared and standard data sets are found (and downloaded to): ``option`` (a
    ``--data-root``), else ``$MULTIVIEW_DATA``, else ``$MULTIVIEW_HOME/data``. Never a folder
    found from where the source code sits."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get("MULTIVIEW_DATA")
    return Path(env).expanduser() if env else home() / "data"


def home() -> Path:
    """``$MULTIVIEW_HOME``, else ``~/.cache/multiview``."""
    return Path(os.environ.get("MULTIVIEW_HOME", Path.home() / ".cache" / "multiview")).expanduser()


def cache_dir(*parts: str) -> Path:
    path = home().joinpath("cache", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    path = home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path

