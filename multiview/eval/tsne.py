"""A 2-D t-SNE map of a layer's features, one colour per label (van der Maaten & Hinton 2008).

``multiview eval tsne --checkpoint RUN --data ... --layer pool`` embeds the test split's
features of the trained encoder and of the same architecture at random init (side by side, same
points) with scikit-learn's TSNE, writing ``tsne.png`` and ``tsne.json`` (the 2-D points'
kNN agreement with the labels, a number for what the picture shows).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.manifold import TSNE

from multiview.io import save_figure, write_json


def tsne_2d(features: torch.Tensor, perplexity: float = 30.0, seed: int = 0) -> np.ndarray:
    """``[n, 2]`` t-SNE embedding of standardised features (PCA initialisation)."""
    x = features.double().numpy()
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    perplexity = min(perplexity, max(2.0, (len(x) - 1) / 3))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def neighbour_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Fraction of each point's ``k`` nearest 2-D neighbours sharing its label."""
    d = ((points[:, None] - points[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn_idx = np.argsort(d, axis=1)[:, :k]
    return float((labels[nn_idx] == labels[:, None]).mean())


def plot_maps(maps: dict[str, np.ndarray], labels: np.ndarray, classes: list[str], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 4.2), squeeze=False)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for ax, (name, pts) in zip(axes[0], maps.items()):
        for c in np.unique(labels):
            m = labels == c
            ax.scatter(pts[m, 0], pts[m, 1], s=5, color=cmap(int(c) % cmap.N),
                       label=classes[int(c)] if int(c) < len(classes) else str(c))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(fontsize=7, markerscale=2.5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title, fontsize=10)
    return save_figure(path, fig)


def main(argv: list[str]) -> int:
    from multiview.eval.checkpoint import eval_dir, load_encoder, random_like
    from multiview.eval.datasets import add_data_args, data_tag, eval_splits
    from multiview.eval.features import extract

    parser = argparse.ArgumentParser(prog="multiview eval tsne", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--n", type=int, default=1000, help="test points to embed")
    parser.add_argument("--perplexity", type=float, default=30.0)
    add_data_args(parser)
    args = parser.parse_args(argv)
    enc, modality = load_encoder(args.checkpoint, args.encoder)
    _, _, test, classes = eval_splits(args, modality, enc, test_limit=args.n)
    maps, result, labels = {}, {}, None
    for name, module in (("trained", enc), ("random init", random_like(enc, args.seed + 12345))):
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
