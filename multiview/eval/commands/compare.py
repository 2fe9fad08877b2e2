"""Run one feature-based evaluation on a trained encoder and on every baseline, side by side.

Representations: ``ssl`` (the trained encoder at ``--layer``), ``random_init`` (same
architecture, fresh weights, same layer), the hand-designed ones of the modality
(:func:`multiview.eval.core.baselines.hand_designed`, their ``pool`` output) and ``supervised`` (same
architecture trained with labels on the same training split, same layer). The flat results,
``<kind>/<representation>/<metric>``, go to ``<kind>.json`` with a bar chart ``<kind>.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.eval.core.plots import plot_bars
from multiview.core.io import write_json

BASELINES = ("random_init", "hand_designed", "supervised")


def add_report_args(parser: argparse.ArgumentParser) -> None:
    from multiview.eval.core.datasets import add_data_args

    parser.add_argument("--checkpoint", required=True, help="run folder, .ckpt, or encoder state_dict")
    parser.add_argument("--baselines", default=",".join(BASELINES),
                        help=f"comma-separated subset of {','.join(BASELINES)} ('' for none)")
    parser.add_argument("--supervised-epochs", type=int, default=None,
                        help="epochs of the supervised baseline (default: 15; 100 for text)")
    add_data_args(parser)


def representations(args, encoder: nn.Module, modality: str, train, n_classes: int) -> dict[str, tuple[nn.Module, str]]:
    """``{name: (module, layer)}`` for the trained encoder and the requested baselines."""
    from multiview.eval.core import baselines
    from multiview.eval.core.embed import random_encoder
    from multiview.eval.core.datasets import sample_rate_of

    wanted = [b for b in args.baselines.split(",") if b]
    if set(wanted) - set(BASELINES):
        raise UserError(f"--baselines {args.baselines!r}: expected a comma-separated subset of {','.join(BASELINES)}")
    reps = {"ssl": (encoder, args.layer)}
    if "random_init" in wanted:
        reps["random_init"] = (random_encoder(encoder, train, args.seed + 12345), args.layer)
    if "hand_designed" in wanted:
        if modality == "text":
            from multiview.eval.core.text_baselines import hand_designed_text

            hand = hand_designed_text(encoder, args.checkpoint, args.corpus)
        else:
            hand = baselines.hand_designed(modality, sample_rate_of(encoder))
        for name, module in hand.items():
            reps[name] = (module, "pool")
    if "supervised" in wanted:
        t0 = time.time()
        data_key = f"{baselines.data_fingerprint(args.data, args.checkpoint)}|{args.size}|{args.train_limit}|{args.val_fraction}|{modality}"
        text = modality == "text"
        if text:
            data_key += f"|{args.test_fraction}"
        epochs = args.supervised_epochs or (100 if text else 15)
        reps["supervised"] = (baselines.supervised(encoder, train, n_classes, modality, data_key, epochs=epochs,
                                                   lr=1e-2 if text else 2e-3, seed=args.seed), args.layer)
        print(f"  supervised baseline ready ({time.time() - t0:.0f} s)", flush=True)
    return reps


def feature_report(parser: argparse.ArgumentParser, argv: list[str], kind: str,
                   evaluate: Callable[[dict], dict[str, float]]) -> int:
    """Parse ``argv``, extract train/val/test features per representation, ``evaluate`` each.
    With ``--repeats N`` the splits are drawn N times (seeds ``seed .. seed + N - 1``) and each
    figure is the mean, with its standard deviation beside it (``..._std``)."""
    from multiview.eval.core.checkpoint import eval_dir, load_encoder
    from multiview.eval.core.datasets import data_tag, eval_splits

    add_report_args(parser)
    parser.add_argument("--repeats", type=int, default=1, help="draw the splits this many times (seeds) and average")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        raise UserError(f"--repeats {args.repeats}: expected an integer >= 1")
    encoder, modality = load_encoder(args.checkpoint, args.encoder)
    base_seed, runs = args.seed, {}
    for repeat in range(args.repeats):
        args.seed, args.quiet = base_seed + repeat, repeat > 0
        train, val, test, classes = eval_splits(args, modality, encoder)
        if repeat == 0:
            print(f"{kind}: {args.checkpoint} [{modality} encoder, layer {args.layer}] on {args.data}: "
                  f"{len(train)} train / {len(val)} val / {len(test)} test, {len(classes)} classes"
                  + (f", {args.repeats} draws" if args.repeats > 1 else ""), flush=True)
        for name, (module, layer) in representations(args, encoder, modality, train, len(classes)).items():
            r, test_y = evaluate_representation(module, layer, (train, val, test), args.spatial, evaluate)
            if name == "ssl":
                runs.setdefault(f"{kind}/majority/top1", []).append(float(test_y.bincount().max() / len(test_y)))
            for k, v in r.items():
                runs.setdefault(f"{kind}/{name}/{k}", []).append(float(v))
            if args.repeats == 1:
                print(f"  {name:<13} test top-1 {r['top1']:.4f}  (val {r['val_top1']:.4f}, dim {int(r['dim'])})",
                      flush=True)
    args.seed = base_seed
    results: dict[str, float] = {f"{kind}/n_train": len(train), f"{kind}/n_val": len(val),
                                 f"{kind}/n_test": len(test), f"{kind}/chance/top1": 1.0 / len(classes),
                                 f"{kind}/repeats": args.repeats}
    for key, values in runs.items():
        results[key] = float(np.mean(values))
        if args.repeats > 1 and key.endswith("top1") and "/majority/" not in key:
            results[f"{key}_std"] = float(np.std(values))
    names = [k.split("/")[1] for k in results if k.endswith("/top1") and k.split("/")[1] not in ("chance", "majority")]
    if args.repeats > 1:
        for n in names:
            print(f"  {n:<13} test top-1 {results[f'{kind}/{n}/top1']:.4f} +- {results[f'{kind}/{n}/top1_std']:.4f}"
                  f"  (val {results[f'{kind}/{n}/val_top1']:.4f})", flush=True)
    out = Path(args.out) if args.out else eval_dir(args.checkpoint, kind, data_tag(args, modality))
    write_json(out / f"{kind}.json", results)
    plot_bars({n: results[f"{kind}/{n}/top1"] for n in names}, max(1.0 / len(classes), results[f"{kind}/majority/top1"]),
              f"{kind} on {args.data} ({modality}, layer {args.layer})", out / f"{kind}.png")
    print(f"wrote {out / (kind + '.json')}, {kind}.png")
    return 0


def evaluate_representation(module: nn.Module, layer: str, splits, spatial: int,
                            evaluate: Callable[[dict], dict[str, float]]):
    """``(evaluate's figures and the feature width, test labels)``."""
    feats = split_features(module, [layer], splits, spatial)[layer]
    return {**evaluate(feats), "dim": float(feats["train"].shape[1])}, feats["test_y"]


def split_features(module: nn.Module, layers: list[str], splits, spatial: int) -> dict[str, dict]:
    """``{layer: {"train", "train_y", "val", "val_y", "test", "test_y"}}``: one pass of ``module``
    over each of the (train, val, test) ``splits`` gives every layer's features."""
    from multiview.eval.core.features import extract

    feats: dict[str, dict] = {layer: {} for layer in layers}
    for split, ds in zip(("train", "val", "test"), splits):
        f = extract(module, ds, layers, spatial=spatial)
        for layer in layers:
            feats[layer][split], feats[layer][f"{split}_y"] = f[layer], f["label"]
    return feats
