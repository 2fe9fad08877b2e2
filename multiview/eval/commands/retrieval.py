"""``multiview eval retrieval``: cross-view retrieval on a run's held-out data.

One path with the end-of-fit :class:`~multiview.eval.reports.RetrievalReport`: both call
:func:`~multiview.eval.core.paired.retrieval_figures` on the run's held-out loader (``--data run``,
the data module built from ``RUN/config.yaml``), so the figures equal the ``retrieval/...`` ones
in ``RUN/metrics.json``: R@K and median rank in every direction
between views, class mAP across and within views where the clips are labelled, for the trained
model, the same architecture at random init, and chance. Writes ``retrieval.json`` (and
``retrieval.png`` for frame/sound models) under ``RUN/eval/retrieval``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multiview.core.io import write_json
from multiview.eval.commands import EVAL
from multiview.eval.core.checkpoint import eval_dir, load_model, run_datamodule
from multiview.eval.core.paired import plot_matches, retrieval_figures
from multiview.eval.core.plots import print_table

HELP = EVAL["retrieval"].help


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval retrieval", description=HELP)
    parser.add_argument("--checkpoint", required=True, help="run folder or .ckpt inside one")
    parser.add_argument("--data", default="run", choices=["run"],
                        help="the run's own held-out data, as the end-of-fit report (default: run)")
    parser.add_argument("--out", default="", help="output folder (default: RUN/eval/retrieval)")
    args = parser.parse_args(argv)
    model = load_model(args.checkpoint)
    dm = run_datamodule(args.checkpoint)
    metrics, trained = retrieval_figures(model, dm.val_dataloader())
    out = Path(args.out) if args.out else eval_dir(args.checkpoint, "retrieval")
    write_json(out / "retrieval.json", metrics)
    if {"frame", "audio", "frame_in", "audio_in"} <= set(trained):
        plot_matches(trained, model.encoders()["audio"].logmel, out / "retrieval.png")
    print_table(metrics)
    print(f"wrote {out / 'retrieval.json'}" + (", retrieval.png" if (out / "retrieval.png").exists() else ""))
    return 0
