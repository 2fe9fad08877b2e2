"""``multiview eval rsa``: representational similarity of every layer, trained vs another network.

RDMs (1 - Pearson r between stimuli) per layer, Spearman between RDMs (Kriegeskorte et al.
2008), and linear CKA between every pair of layers (Kornblith et al. 2019).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from multiview.core.io import save_figure, write_json
from multiview.core.outputs import claim_output
from multiview.eval.commands import EVAL
from multiview.eval.core import checkpoint, features
from multiview.eval.core.datasets import add_data_args, data_tag, eval_splits
from multiview.eval.core.embed import random_encoder
from multiview.eval.metrics.rsa import cka_matrix, rdm, rdm_similarity

HELP = EVAL["rsa"].help


def plot_heatmap(m: torch.Tensor, rows: list[str], cols: list[str], title: str, path: Path,
                 xlabel: str = "", ylabel: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1 + 0.8 * len(cols), 1 + 0.7 * len(rows)))
    im = ax.imshow(m.numpy(), vmin=0, vmax=1, cmap="magma")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] < 0.6 else "black")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save_figure(path, fig)


def plot_rdms(rdms: dict[str, torch.Tensor], labels: torch.Tensor, path: Path) -> Path:
    """One RDM per layer, stimuli sorted by label so class blocks show on the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = torch.argsort(labels, stable=True)
    fig, axes = plt.subplots(1, len(rdms), figsize=(2.4 * len(rdms), 2.6), squeeze=False)
    for ax, (name, m) in zip(axes[0], rdms.items()):
        ax.imshow(m[order][:, order].numpy(), cmap="viridis")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("RDMs (1 - Pearson r), stimuli sorted by label", fontsize=9)
    return save_figure(path, fig)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval rsa", description=HELP)
    parser.add_argument("--checkpoint", required=True, help="run folder, .ckpt, or encoder state_dict")
    parser.add_argument("--other", default="random", help="a second run/checkpoint, or 'random' (default)")
    parser.add_argument("--n", type=int, default=500, help="stimuli (test examples) to compare")
    add_data_args(parser)
    args = parser.parse_args(argv)
    if args.out:  # a folder of the user's own files is refused before any work
        claim_output(args.out, "eval")
    enc, modality = checkpoint.load_encoder(args.checkpoint, args.encoder)
    train, _, test, _ = eval_splits(args, modality, enc, test_limit=args.n)
    other = (random_encoder(enc, train) if args.other == "random"
             else checkpoint.load_encoder(args.other, args.encoder)[0])
    layers = features.layer_names(enc, test)
    a = features.extract(enc, test, layers, spatial=args.spatial)
    b = features.extract(other, test, features.layer_names(other, test), spatial=args.spatial)
    labels = a.pop("label")
    b.pop("label")
    cka = cka_matrix(a, b)
    rdms_a = {k: rdm(v) for k, v in a.items()}
    rdms_b = {k: rdm(v) for k, v in b.items()}
    out_dir = Path(args.out) if args.out else checkpoint.eval_dir(args.checkpoint, "rsa", data_tag(args, modality))
    label_rdm = (labels[:, None] != labels[None, :]).double()
    result = {f"cka/{i}/{j}": float(cka[r, c]) for r, i in enumerate(a) for c, j in enumerate(b)}
    result.update({f"rdm_spearman/{k}/vs_other": rdm_similarity(rdms_a[k], rdms_b[k]) for k in a if k in b})
    result.update({f"rdm_spearman/{k}/vs_labels": rdm_similarity(rdms_a[k], label_rdm) for k in a})
    result.update({f"rdm_spearman/{k}/other_vs_labels": rdm_similarity(rdms_b[k], label_rdm) for k in b})
    write_json(out_dir / "rsa.json", result)
    plot_heatmap(cka, list(a), list(b), f"linear CKA: {args.checkpoint} vs {args.other}",
                 out_dir / "cka.png", xlabel="other", ylabel="trained")
    plot_rdms(rdms_a, labels, out_dir / "rdm.png")
    for k, v in sorted(result.items()):
        if not k.startswith("cka/") or k.split("/")[1] == k.split("/")[2]:
            print(f"  {k:<40} {v:.4f}")
    print(f"wrote {out_dir / 'rsa.json'}, cka.png, rdm.png")
    return 0
