"""``multiview eval probe``: a linear probe on frozen features, beside every baseline."""

from __future__ import annotations

import argparse

from multiview.eval.commands import EVAL
from multiview.eval.commands.compare import feature_report
from multiview.eval.metrics.linear import linear_probe

HELP = EVAL["probe"].help


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval probe", description=HELP)
    return feature_report(parser, argv, "probe",
                          lambda f: linear_probe(f["train"], f["train_y"], f["val"], f["val_y"], f["test"], f["test_y"]))
