"""``multiview eval retrieval``: cross-view retrieval on a run's held-out data.

One path with the end-of-fit :class:`~multiview.eval.reports.RetrievalReport`: both call
:func:`~multiview.eval.core.paired.retrieval_figures` on the run's held-out loader (``--data run``,
the data module built from ``RUN/config.yaml``), so the figures equal the ``retrieval/...`` ones
in ``RUN/metrics.json``: R@K, median and mean rank in every direction
between views, class mAP across and within views where the clips are labelled, for the trained
model, the same architecture at random init, and chance, each with a bootstrap 95% interval over
the queries (``--bootstrap N`` resamples, ``--seed``). Writes ``retrieval.json``, each query's
rank in ``retrieval_queries.csv`` (:mod:`multiview.eval.core.queries`) and ``retrieval.png`` for
frame/sound models under ``RUN/eval/retrieval``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multiview.core.errors import UserError
from multiview.core.io import write_json
from multiview.core.outputs import claim_output
from multiview.eval.commands import EVAL
from multiview.eval.core.checkpoint import eval_dir, load_model, run_datamodule
from multiview.eval.core.paired import plot_matches, retrieval_results
from multiview.eval.core.plots import print_table
from multiview.eval.core.queries import QUERY_FILE, write_queries

HELP = EVAL["retrieval"].help


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval retrieval", description=HELP)
    parser.add_argument("--checkpoint", required=True, help="run folder or .ckpt inside one")
    parser.add_argument("--data", default="run", choices=["run"],
                        help="the run's own held-out data, as the end-of-fit report (default: run)")
    parser.add_argument("--out", default="", help="output folder (default: RUN/eval/retrieval)")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="resamples of the queries behind each 95%% interval (0: none; default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples (default 0)")
    args = parser.parse_args(argv)
    if args.out:  # a folder of the user's own files is refused before any work
        claim_output(args.out, "eval")
    if args.bootstrap < 0:
        raise UserError(f"--bootstrap {args.bootstrap}: expected an integer >= 0 (0: no intervals)")
    model = load_model(args.checkpoint)
    dm = run_datamodule(args.checkpoint)
    metrics, trained, rows = retrieval_results(model, dm.val_dataloader(), n_boot=args.bootstrap, seed=args.seed)
    out = Path(args.out) if args.out else eval_dir(args.checkpoint, "retrieval")
    write_json(out / "retrieval.json", metrics)
    write_queries(out / QUERY_FILE, rows)
    if {"frame", "audio", "frame_in", "audio_in"} <= set(trained):
        plot_matches(trained, model.encoders()["audio"].logmel, out / "retrieval.png")
    print_table(metrics)
    png = ", retrieval.png" if (out / "retrieval.png").exists() else ""
    print(f"wrote {out / 'retrieval.json'}, {QUERY_FILE}{png}")
    return 0
