"""End-of-fit reports as Lightning callbacks, named in a recipe's ``trainer.callbacks``.

Each report runs once after ``fit`` on rank zero, computes its figures from the run's own data
with the same functions as the matching ``multiview eval`` command, merges them into
``RUN/metrics.json`` (flat keys such as ``retrieval/frame_to_audio/R@1``) and may write PNGs
beside it. A report that cannot run says why in one line; a report that fails never costs the
trained run: the checkpoints are already written, and the error is printed, not raised.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from multiview.core.errors import UserError
from multiview.core.io import write_json


def record(run_dir: Path, figures: dict[str, float]) -> dict[str, float]:
    """Merge ``figures`` into ``run_dir/metrics.json`` (written atomically); return the whole."""
    path = Path(run_dir) / "metrics.json"
    try:
        metrics = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        metrics = {}
    metrics.update(figures)
    write_json(path, metrics)
    return metrics


def format_table(figures: dict[str, float]) -> str:
    width = max((len(k) for k in figures), default=0)
    return "\n".join(f"  {k:<{width}}  {v:.4f}" if isinstance(v, (int, float)) and math.isfinite(v)
                     else f"  {k:<{width}}  {v}" for k, v in sorted(figures.items()))


class Report(Callback):
    """Base of the end-of-fit reports: subclasses implement :meth:`compute`."""

    name = "report"

    def compute(self, trainer: L.Trainer, model: L.LightningModule, run_dir: Path) -> dict[str, float]:
        raise NotImplementedError

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.interrupted or not trainer.is_global_zero or getattr(trainer, "fast_dev_run", False):
            return
        run_dir = Path(trainer.default_root_dir)
        try:
            figures = self.compute(trainer, pl_module, run_dir)
        except UserError as e:
            print(f"{self.name} report: not computed: {e}", file=sys.stderr)
            return
        except Exception as e:  # a report must never cost the trained run
            print(f"{self.name} report: failed ({type(e).__name__}: {str(e)[:300]}); "
                  f"the trained run in {run_dir} is kept", file=sys.stderr)
            return
        if figures:
            record(run_dir, figures)
            print(f"\n{self.name} report:\n" + format_table(figures), flush=True)
