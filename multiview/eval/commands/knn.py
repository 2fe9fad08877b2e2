"""``multiview eval knn``: weighted kNN (Wu et al. 2018) on frozen features, beside every baseline.

One path with the end-of-fit :class:`~multiview.eval.reports.KNNReport` (and the kNN figures a
:class:`~multiview.eval.reports.ProbeReport` writes): both call
:func:`multiview.eval.core.frozen.frozen_figures`, so ``multiview eval knn --checkpoint RUN
--data run`` reproduces the ``knn/...`` figures of ``RUN/metrics.json``.
"""

from __future__ import annotations

import argparse

from multiview.eval.commands import EVAL
from multiview.eval.commands.compare import feature_report

HELP = EVAL["knn"].help


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval knn", description=HELP)
    return feature_report(parser, argv, "knn")
