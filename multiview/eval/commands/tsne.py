"""A 2-D t-SNE map of a layer's features, one colour per label (van der Maaten & Hinton 2008).

``multiview eval tsne --checkpoint RUN --data ... --layer pool`` embeds the test split's
features of the trained encoder and of the same architecture at random init (side by side, same
points) with scikit-learn's TSNE, writing ``tsne.png`` and ``tsne.json`` (the 2-D points'
kNN agreement with the labels, a number for what the picture shows).

One path with the end-of-fit :class:`~multiview.eval.reports.TSNEReport`: both call
:func:`multiview.eval.core.frozen.tsne_figures` on the same splits, so ``--data run`` with the
defaults reproduces the ``tsne/...`` figures of ``RUN/metrics.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multiview.core.io import write_json
from multiview.core.outputs import claim_output
from multiview.eval.commands import EVAL
from multiview.eval.core.checkpoint import eval_dir, load_encoder
from multiview.eval.core.datasets import DEFAULTS, add_data_args, data_tag, eval_splits
from multiview.eval.core.frozen import tsne_figures
from multiview.eval.core.plots import plot_maps

HELP = EVAL["tsne"].help


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval tsne", description=HELP)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--n", type=int, default=DEFAULTS["tsne_points"], help="test points to embed")
    parser.add_argument("--perplexity", type=float, default=DEFAULTS["perplexity"])
    add_data_args(parser)
    args = parser.parse_args(argv)
    if args.out:  # a folder of the user's own files is refused before any work
        claim_output(args.out, "eval")
    enc, modality = load_encoder(args.checkpoint, args.encoder)
    train, _, test, classes = eval_splits(args, modality, enc, test_limit=args.n)
    result, maps, labels = tsne_figures(enc, train, test, args.layer, args.spatial, args.perplexity, args.seed)
    out = Path(args.out) if args.out else eval_dir(args.checkpoint, "tsne", data_tag(args, modality))
    write_json(out / "tsne.json", result)
    plot_maps(maps, labels, classes, f"t-SNE of {modality} layer {args.layer} on {args.data}", out / "tsne.png")
    for k, v in result.items():
        print(f"  {k:<36} {v:.4f}")
    print(f"wrote {out / 'tsne.png'}, tsne.json")
    return 0
