"""Figures of frozen features: linear probe, kNN and t-SNE, one function each for every caller.

``multiview eval probe|knn|tsne`` and the end-of-fit :class:`~multiview.eval.reports.ProbeReport`,
:class:`~multiview.eval.reports.KNNReport` and :class:`~multiview.eval.reports.TSNEReport` all call
:func:`frozen_figures` / :func:`tsne_figures` on the same ``(train, val, test)`` splits
(:func:`~multiview.eval.core.run_data.run_splits` for a run's own data), with the same limits
(:data:`~multiview.eval.core.datasets.DEFAULTS`) and the one random-init procedure
(:func:`~multiview.eval.core.embed.random_encoder`, seed ``seed + 12345``). So
``multiview eval probe --checkpoint RUN --data run`` with its defaults
gives the very figures the run's report wrote to ``RUN/metrics.json``.

Figures are flat: ``<kind>/<metric>`` for the trained encoder (``probe/top1``),
``<kind>/<baseline>/<metric>`` for a baseline (``probe/random_init/top1``), beside
``<kind>/chance/top1``, ``<kind>/majority/top1`` and the split sizes ``<kind>/n_train|n_val|n_test``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.eval.core.embed import random_encoder
from multiview.eval.core.features import extract
from multiview.eval.metrics.knn import knn_eval
from multiview.eval.metrics.linear import linear_probe
from multiview.eval.metrics.maps import neighbour_agreement, tsne_2d

RANDOM_INIT_SEED = 12345  # added to the evaluation seed: the random-init baseline's weights

EVALUATE: dict[str, Callable[[dict], dict[str, float]]] = {
    "probe": lambda f: linear_probe(f["train"], f["train_y"], f["val"], f["val_y"], f["test"], f["test_y"]),
    "knn": lambda f: knn_eval(f["train"], f["train_y"], f["val"], f["val_y"], f["test"], f["test_y"]),
}


def random_init_of(encoder: nn.Module, train, seed: int) -> nn.Module:
    """The random-init baseline of ``encoder``: BatchNorm statistics from the training split."""
    return random_encoder(encoder, train, seed + RANDOM_INIT_SEED)


def check_splits(splits) -> None:
    """Refuse, in one line naming it, a (train, val, test) split without samples."""
    sizes = dict(zip(("train", "val", "test"), map(len, splits)))
    for split, n in sizes.items():
        if not n:
            raise UserError(f"the {split} split has no samples ({', '.join(f'{k} {v}' for k, v in sizes.items())}): "
                            "frozen-feature figures need labelled samples on every side (add labelled data)")


def split_features(module: nn.Module, layers: list[str], splits, spatial: int) -> dict[str, dict]:
    """``{layer: {"train", "train_y", "val", "val_y", "test", "test_y"}}``: one pass of ``module``
    over each of the (train, val, test) ``splits`` gives every layer's features."""
    check_splits(splits)
    feats: dict[str, dict] = {layer: {} for layer in layers}
    for split, ds in zip(("train", "val", "test"), splits):
        f = extract(module, ds, layers, spatial=spatial)
        for layer in layers:
            feats[layer][split], feats[layer][f"{split}_y"] = f[layer], f["label"]
    return feats


def frozen_figures(kinds: list[str], encoder: nn.Module, splits, n_classes: int, layer: str = "pool",
                   spatial: int = 1, seed: int = 0, random_init: bool = True,
                   baselines: dict[str, tuple[nn.Module, str]] | None = None) -> dict[str, float]:
    """Each of ``kinds`` (``probe``, ``knn``) on the trained ``encoder``'s ``layer``, its random
    init (``random_init``) and any further ``baselines`` (``{name: (module, layer)}``)."""
    check_splits(splits)
    train, val, test = splits
    reps: dict[str, tuple[nn.Module, str]] = {"": (encoder, layer)}
    if random_init:
        reps["random_init"] = (random_init_of(encoder, train, seed), layer)
    reps.update(baselines or {})
    figures: dict[str, float] = {}
    for name, (module, at) in reps.items():
        f = split_features(module, [at], splits, spatial)[at]
        for kind in kinds:
            prefix = f"{kind}/{name}/" if name else f"{kind}/"
            figures.update({prefix + k: float(v) for k, v in EVALUATE[kind](f).items()})
            figures[prefix + "dim"] = float(f["train"].shape[1])
            if not name:
                test_y = f["test_y"]
                figures[f"{kind}/majority/top1"] = float(test_y.bincount().max() / len(test_y))
    for kind in kinds:
        figures.update({f"{kind}/n_train": float(len(train)), f"{kind}/n_val": float(len(val)),
                        f"{kind}/n_test": float(len(test)), f"{kind}/chance/top1": 1.0 / n_classes})
    return figures


def tsne_figures(encoder: nn.Module, train, test, layer: str = "pool", spatial: int = 1,
                 perplexity: float = 30.0, seed: int = 0) -> tuple[dict[str, float], dict, np.ndarray]:
    """``(figures, {"trained" | "random init": [n, 2] map}, labels)`` of the ``test`` split, the
    random init's BatchNorm statistics from ``train``; figures ``tsne/<map>/knn10_agreement``."""
    maps, figures, labels = {}, {}, None
    for name, module in (("trained", encoder), ("random init", random_init_of(encoder, train, seed))):
        f = extract(module, test, layer, spatial=spatial)
        labels = f["label"].numpy()
        maps[name] = tsne_2d(f[layer], perplexity, seed)
        figures[f"tsne/{name.replace(' ', '_')}/knn10_agreement"] = neighbour_agreement(maps[name], labels)
    return figures, maps, labels
