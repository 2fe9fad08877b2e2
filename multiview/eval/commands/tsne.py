"""A 2-D t-SNE map of a layer's features, one colour per label (van der Maaten & Hinton 2008).

``multiview eval tsne --checkpoint RUN --data ... --layer pool`` embeds the test split's
features of the trained encoder and of the same architecture at random init (side by side, same
points) with scikit-learn's TSNE, writing ``tsne.png`` and ``tsne.json`` (the 2-D points'
kNN agreement with the labels, a number for what the picture shows).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multiview.eval.commands import EVAL
from multiview.eval.core.checkpoint import eval_dir, load_encoder
from multiview.eval.core.datasets import add_data_args, data_tag, eval_splits
from multiview.eval.core.embed import random_encoder
from multiview.eval.core.features import extract
from multiview.eval.core.plots import plot_maps
from multiview.eval.metrics.maps import neighbour_agreement, tsne_2d
from multiview.core.io import write_json

HELP = EVAL["tsne"].help


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval tsne", description=HELP)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--n", type=int, default=1000, help="test points to embed")
    parser.add_argument("--perplexity", type=float, default=30.0)
    add_data_args(parser)
    args = parser.parse_args(argv)
    enc, modality = load_encoder(args.checkpoint, args.encoder)
    train, _, test, classes = eval_splits(args, modality, enc, test_limit=args.n)
    maps, result, labels = {}, {}, None
    for name, module in (("trained", enc), ("random init", random_encoder(enc, train, args.seed + 12345))):
        f = extract(module, test, args.layer, spatial=args.spatial)
        labels = f["label"].numpy()
        maps[name] = tsne_2d(f[args.layer], args.perplexity, args.seed)
        result[f"tsne/{name.replace(' ', '_')}/knn10_agreement"] = neighbour_agreement(maps[name], labels)
    out = Path(args.out) if args.out else eval_dir(args.checkpoint, "tsne", data_tag(args, modality))
    write_json(out / "tsne.json", result)
    plot_maps(maps, labels, classes, f"t-SNE of {modality} layer {args.layer} on {args.data}", out / "tsne.png")
    for k, v in result.items():
        print(f"  {k:<36} {v:.4f}")
    print(f"wrote {out / 'tsne.png'}, tsne.json")
    return 0
