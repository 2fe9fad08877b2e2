"""``multiview eval probe``: a linear probe on frozen features, beside every baseline.

One path with the end-of-fit :class:`~multiview.eval.reports.ProbeReport`: both call
:func:`multiview.eval.core.frozen.frozen_figures` on the same splits, so
``multiview eval probe --checkpoint RUN --data run`` reproduces the ``probe/...`` figures of
``RUN/metrics.json`` (and adds the hand-designed and supervised baselines).
"""

from __future__ import annotations

import argparse

from multiview.eval.commands import EVAL
from multiview.eval.commands.compare import feature_report

HELP = EVAL["probe"].help


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval probe", description=HELP)
    return feature_report(parser, argv, "probe")
