"""``multiview eval knn``: weighted kNN (Wu et al. 2018) on frozen features, beside every baseline."""

from __future__ import annotations

import argparse

from multiview.eval.commands import EVAL
from multiview.eval.commands.compare import feature_report
from multiview.eval.metrics.knn import knn_eval

HELP = EVAL["knn"].help


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval knn", description=HELP)
    return feature_report(parser, argv, "knn",
                          lambda f: knn_eval(f["train"], f["train_y"], f["val"], f["val_y"], f["test"], f["test_y"]))
