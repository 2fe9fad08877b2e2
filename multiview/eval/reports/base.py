"""End-of-fit reports as Lightning callbacks, named in a recipe's ``trainer.callbacks``.

Each report runs once after ``fit`` on rank zero, computes its figures from the run's own data
with the same functions as the matching ``multiview eval`` command, merges them into
``RUN/metrics.json`` (flat keys such as ``retrieval/frame_to_audio/R@1``) and may write PNGs
beside it. A report that cannot run says why in one line; a report that fails never costs the
trained run: the checkpoints are already written, and the error is printed, not raised, and kept
in ``metrics.json`` under ``not_computed`` (so a finished run is told from a stopped one).

Each report declares its **headline** (:attr:`Report.headline`): the key of the trained model's
main figure (``probe/top1``, ``retrieval/frame_to_audio/R@1``...), never a baseline's. The first
report of a fit that has one stores it as ``metrics.json["headline"]``; ``multiview runs`` shows it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from multiview.core.errors import UserError
from multiview.core.io import write_json


def record(run_dir: Path, figures: dict, headline: str | None = None) -> dict:
    """Merge ``figures`` into ``run_dir/metrics.json`` (written atomically), with ``headline`` as
    its ``"headline"`` unless an earlier report's is already there; return the whole."""
    path = Path(run_dir) / "metrics.json"
    try:
        metrics = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        metrics = {}
    metrics = metrics if isinstance(metrics, dict) else {}
    metrics.update(figures)
    if headline and metrics.get("headline") not in metrics:
        metrics["headline"] = headline
    write_json(path, metrics)
    return metrics


def pick_headline(patterns: tuple[str, ...], figures: dict) -> str | None:
    """The first key of ``figures`` matching one of ``patterns`` in order (``*`` is one path part)."""
    for pattern in patterns:
        regex = re.compile("[^/]+".join(re.escape(p) for p in pattern.split("*")) + "$")
        match = sorted(k for k in figures if regex.match(k) and isinstance(figures[k], (int, float)))
        if match:
            return match[0]
    return None


def format_table(figures: dict[str, float]) -> str:
    """:func:`~multiview.eval.core.plots.format_figures`: intervals beside their figures."""
    from multiview.eval.core.plots import format_figures

    return format_figures(figures)


def interval_note(figures: dict) -> str:
    """``"  (N held-out queries: rates within about ±X at 95%)"`` where the figures count their queries."""
    from multiview.data.splits import interval_95

    n = next((v for k, v in sorted(figures.items()) if k.endswith(("/n_queries", "/n_test", "/val_samples"))), None)
    return f"\n  ({int(n)} held-out queries: rates within about ±{interval_95(int(n)):.2f} at 95%)" if n else ""


class Report(Callback):
    """Base of the end-of-fit reports: subclasses implement :meth:`compute`."""

    name = "report"
    #: keys (``*`` matching one path part) of the trained model's main figure, in order of preference
    headline: tuple[str, ...] = ()

    def compute(self, trainer: L.Trainer, model: L.LightningModule, run_dir: Path) -> dict[str, float]:
        raise NotImplementedError

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.interrupted or not trainer.is_global_zero or getattr(trainer, "fast_dev_run", False):
            return
        run_dir = Path(trainer.default_root_dir)
        try:
            figures = self.compute(trainer, pl_module, run_dir)
        except UserError as e:
            self._not_computed(run_dir, f"not computed: {e}")
            return
        except Exception as e:  # a report must never cost the trained run
            self._not_computed(run_dir, f"failed ({type(e).__name__}: {str(e)[:300]}); "
                                        f"the trained run in {run_dir} is kept")
            return
        if figures:
            record(run_dir, figures, pick_headline(self.headline, figures))
            print(f"\n{self.name} report:\n" + format_table(figures) + interval_note(figures), flush=True)

    def _not_computed(self, run_dir: Path, why: str) -> None:
        print(f"{self.name} report: {why}", file=sys.stderr)
        path = Path(run_dir) / "metrics.json"
        try:
            notes = dict(json.loads(path.read_text()).get("not_computed", {})) if path.is_file() else {}
        except (OSError, ValueError, AttributeError, TypeError):
            notes = {}
        record(run_dir, {"not_computed": {**notes, self.name: why}})
