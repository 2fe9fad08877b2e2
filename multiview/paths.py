"""Where the suite keeps its caches and run folders (never inside the package or the repo)."""

from __future__ import annotations

import os
from pathlib import Path


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


def shared_data() -> Path:
    """``$MULTIVIEW_DATA``, else the ``shared/data`` folder beside the source checkout."""
    env = os.environ.get("MULTIVIEW_DATA")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "data"
