"""Run one feature-based evaluation on a trained encoder and on every baseline, side by side.

Representations: the trained encoder at ``--layer``, ``random_init`` (same architecture, fresh
weights, same layer: :func:`multiview.eval.core.embed.random_init`), the hand-designed ones of the
modality (:func:`multiview.eval.core.baselines.hand_designed`, their ``pool`` output) and
``supervised`` (same architecture trained with labels on the same training split, same layer).
The figures come from :func:`multiview.eval.core.frozen.frozen_figures`, the function the
end-of-fit reports call: ``<kind>/<metric>`` for the trained encoder, ``<kind>/<baseline>/<metric>``
for the baselines. They go to ``<kind>.json`` with a bar chart ``<kind>.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.core.io import write_json
from multiview.core.outputs import claim_output
from multiview.eval.core.bootstrap import format_interval, with_accuracy_intervals
from multiview.eval.core.plots import plot_bars

BASELINES = ("random_init", "hand_designed", "supervised")


def add_report_args(parser: argparse.ArgumentParser) -> None:
    from multiview.eval.core.datasets import add_data_args

    parser.add_argument("--checkpoint", required=True, help="run folder, .ckpt, or encoder state_dict")
    parser.add_argument("--baselines", default=",".join(BASELINES),
                        help=f"comma-separated subset of {','.join(BASELINES)} ('' for none)")
    parser.add_argument("--supervised-epochs", type=int, default=None,
                        help="epochs of the supervised baseline (default: 15; 100 for text)")
    add_data_args(parser)


def wanted_baselines(args) -> list[str]:
    wanted = [b for b in args.baselines.split(",") if b]
    if set(wanted) - set(BASELINES):
        raise UserError(f"--baselines {args.baselines!r}: expected a comma-separated subset of {','.join(BASELINES)}")
    return wanted


def representations(args, encoder: nn.Module, modality: str, train, n_classes: int) -> dict[str, tuple[nn.Module, str]]:
    """``{name: (module, layer)}`` for the trained encoder (``ssl``) and the requested baselines."""
    from multiview.eval.core.frozen import random_init_of

    reps = {"ssl": (encoder, args.layer)}
    if "random_init" in wanted_baselines(args):
        reps["random_init"] = (random_init_of(encoder, train, args.seed), args.layer)
    return {**reps, **other_baselines(args, encoder, modality, train, n_classes)}


def other_baselines(args, encoder: nn.Module, modality: str, train, n_classes: int) -> dict[str, tuple[nn.Module, str]]:
    """The hand-designed and supervised baselines that ``--baselines`` asks for."""
    from multiview.eval.core import baselines
    from multiview.eval.core.datasets import sample_rate_of

    wanted, reps = wanted_baselines(args), {}
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
        data_key = (f"{baselines.data_fingerprint(args.data, args.checkpoint)}|{args.size}|{args.train_limit}"
                    f"|{args.val_fraction}|{modality}")
        text = modality == "text"
        if text:
            data_key += f"|{args.test_fraction}"
        epochs = args.supervised_epochs or (100 if text else 15)
        reps["supervised"] = (baselines.supervised(encoder, train, n_classes, modality, data_key, epochs=epochs,
                                                   lr=1e-2 if text else 2e-3, seed=args.seed), args.layer)
        print(f"  supervised baseline ready ({time.time() - t0:.0f} s)", flush=True)
    return reps


def feature_report(parser: argparse.ArgumentParser, argv: list[str], kind: str) -> int:
    """Parse ``argv``, then :func:`~multiview.eval.core.frozen.frozen_figures` of ``kind`` on the
    splits (the end-of-fit reports' function: with ``--data run`` and the defaults, the figures the
    run's report wrote). With ``--repeats N`` the splits are drawn N times (seeds
    ``seed .. seed + N - 1``) and each figure is the mean, with its standard deviation beside it
    (``..._std``). Each test top-1 gets a bootstrap 95% interval over the test samples
    (``..._lo`` / ``..._hi``, :func:`~multiview.eval.core.bootstrap.with_accuracy_intervals`)."""
    from multiview.eval.core.checkpoint import eval_dir, load_encoder
    from multiview.eval.core.datasets import data_tag, eval_splits
    from multiview.eval.core.frozen import frozen_figures

    add_report_args(parser)
    parser.add_argument("--repeats", type=int, default=1, help="draw the splits this many times (seeds) and average")
    args = parser.parse_args(argv)
    if args.out:  # a folder of the user's own files is refused before any work
        claim_output(args.out, "eval")
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
        figures = frozen_figures([kind], encoder, (train, val, test), len(classes), args.layer, args.spatial,
                                 args.seed, "random_init" in wanted_baselines(args),
                                 other_baselines(args, encoder, modality, train, len(classes)))
        for k, v in figures.items():
            runs.setdefault(k, []).append(v)
    args.seed = base_seed
    results: dict[str, float] = {f"{kind}/repeats": args.repeats}
    for key, values in runs.items():
        results[key] = float(np.mean(values))
        if args.repeats > 1 and key.endswith("top1") and "/majority/" not in key and "/chance/" not in key:
            results[f"{key}_std"] = float(np.std(values))
    results = with_accuracy_intervals(results, seed=base_seed)
    names = {"ssl" if k == f"{kind}/top1" else k.split("/")[1]: k for k in results
             if k.endswith("/top1") and k.split("/")[1] not in ("chance", "majority")}
    for n, k in names.items():
        spread = f" +- {results[k + '_std']:.4f}" if args.repeats > 1 else ""
        top1 = format_interval(results[k], results[f"{k}_lo"], results[f"{k}_hi"])
        print(f"  {n:<13} test top-1 {top1}{spread}  (val {results[k.replace('/top1', '/val_top1')]:.4f}, "
              f"dim {int(results[k.replace('/top1', '/dim')])})", flush=True)
    out = Path(args.out) if args.out else eval_dir(args.checkpoint, kind, data_tag(args, modality))
    write_json(out / f"{kind}.json", results)
    plot_bars({n: results[k] for n, k in names.items()}, max(1.0 / len(classes), results[f"{kind}/majority/top1"]),
              f"{kind} on {args.data} ({modality}, layer {args.layer})", out / f"{kind}.png")
    print(f"wrote {out / (kind + '.json')}, {kind}.png")
    return 0
