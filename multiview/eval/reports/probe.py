"""The frozen-feature reports: linear probe and weighted kNN, trained vs random init.

One path per figure: :class:`ProbeReport` and :class:`KNNReport` call
:func:`multiview.eval.core.frozen.frozen_figures`, as ``multiview eval probe`` and
``multiview eval knn`` do, on :func:`multiview.eval.core.run_data.run_splits` of the run's data
module (what ``--data run`` reads) with the same defaults. ``multiview eval probe --checkpoint RUN
--data run`` therefore reproduces the ``probe/...`` figures this report writes to
``RUN/metrics.json`` (``tests/eval/test_report_equals_command.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from multiview.core.errors import UserError
from multiview.eval.core.bootstrap import with_accuracy_intervals
from multiview.eval.core.checkpoint import pick_encoder
from multiview.eval.core.datasets import DEFAULTS
from multiview.eval.core.frozen import frozen_figures
from multiview.eval.core.run_data import labels_of, run_splits
from multiview.eval.reports.base import Report


class ProbeReport(Report):
    """Linear probe (:func:`~multiview.eval.metrics.linear.linear_probe`, its C chosen on a
    stratified validation split) and weighted kNN (:func:`~multiview.eval.metrics.knn.knn_eval`)
    of the labels on one layer of the method's encoder, trained vs the same encoder at random init
    (:func:`~multiview.eval.core.embed.random_init`), beside chance and the majority class.
    Train / val: the data module's training samples (a class-balanced ``train_limit``, then
    ``val_fraction``); test: its held-out samples (a class-balanced ``test_limit``).

    Args:
        encoder: view name(s) of the encoder to probe, as ``--encoder`` (several, comma-separated
            or a list, are concatenated; default ``auto``: the only encoder, or every image encoder).
        kinds: which figures, ``probe`` and/or ``knn``.
        layer, spatial, train_limit, test_limit, val_fraction, seed: as the commands' options.
    """

    name = "probe"
    kinds: tuple[str, ...] = ("probe", "knn")
    headline = ("probe/top1", "knn/top1")

    def __init__(self, encoder: str | list[str] | None = None, kinds: list[str] | None = None,
                 layer: str = DEFAULTS["layer"], spatial: int = DEFAULTS["spatial"],
                 train_limit: int = DEFAULTS["train_limit"], test_limit: int = DEFAULTS["test_limit"],
                 val_fraction: float = DEFAULTS["val_fraction"], seed: int = DEFAULTS["seed"]):
        self.encoder = ",".join(encoder) if isinstance(encoder, (list, tuple)) else encoder
        self.kinds = tuple(kinds or self.kinds)
        self.layer, self.spatial, self.seed = layer, spatial, seed
        self.train_limit, self.test_limit, self.val_fraction = train_limit, test_limit, val_fraction

    def compute(self, trainer, model, run_dir: Path) -> dict[str, float]:
        encoder, modality = pick_encoder(model.encoders(), self.encoder, type(model).__name__)
        train, val, test, classes = run_splits(trainer.datamodule, modality, self.val_fraction, self.seed,
                                               self.train_limit, self.test_limit)
        check_scorable(np.concatenate([labels_of(train), labels_of(val)]), labels_of(test), classes)  # refit on both
        figures = frozen_figures(list(self.kinds), encoder, (train, val, test), len(classes), self.layer,
                                 self.spatial, self.seed)
        return with_accuracy_intervals(figures, seed=self.seed)  # bootstrap over the test samples


def check_scorable(train_y: np.ndarray, test_y: np.ndarray, classes: list[str]) -> None:
    """Refuse a probe whose held-out samples are all of classes absent from training (it would
    score 0.0 by construction); name the unseen classes where only some are."""
    unseen = sorted(set(np.unique(test_y).tolist()) - set(np.unique(train_y).tolist()))
    if not unseen:
        return
    names = ", ".join(classes[c] if 0 <= c < len(classes) else str(c) for c in unseen[:5])
    share = f"{int(np.isin(test_y, unseen).sum())} of {len(test_y)} held-out samples"
    if len(unseen) == len(np.unique(test_y)):
        raise UserError(f"cannot score: the {len(test_y)} held-out samples are all of classes that training "
                        f"never shows ({names}); hold out videos of the training classes")
    print(f"probe report: {share} are of classes training never shows ({names}); they count as errors",
          file=sys.stderr)


class KNNReport(ProbeReport):
    """Weighted kNN only (Wu et al. 2018): the ``knn/...`` figures of ``multiview eval knn``."""

    name = "knn"
    kinds = ("knn",)
    headline = ("knn/top1",)
