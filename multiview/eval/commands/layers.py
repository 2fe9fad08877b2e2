"""``multiview eval layers``: a linear probe on every layer of several runs, beside their baselines.

The chart of Zhang, Isola & Efros 2017 (Table 2: linear probes on AlexNet conv1-conv5 for
random, autoencoder, context, colorization and labels): what each layer of each run learned.
For every run (a run folder or ``.ckpt``, as ``eval probe --checkpoint`` takes) every layer that
its image encoder's ``features()`` exposes is probed with the protocol of ``eval probe``
(:mod:`multiview.eval.metrics.linear`: standardised features, ``C`` chosen on validation, refitted
on train + val, test top-1), on the same splits. Beside them, per distinct architecture: the same
architecture at random init and (the ceiling) trained with labels on the same training split,
every layer too; and the hand-designed representations (raw pixels, Gabor energy), one figure
each, drawn as horizontal lines. The baselines are those of ``eval probe``
(:func:`multiview.eval.commands.compare.representations`).

Spatial layers ``[B, C, H, W]`` are average-pooled to ``--spatial`` x ``--spatial`` and flattened,
as ``eval probe --spatial`` does (:func:`multiview.eval.core.features.flatten_layer`); the
default 1 is global average pooling, so a layer's feature width is its channel count.

Writes ``layers.json`` (``top1``/``val_top1``/``dim``: method -> layer -> figure, ``kind`` of each
method, ``layers`` in depth order, and the settings), ``layers.md`` (rows = methods, columns =
layers) and ``layers.png`` (accuracy against depth), each atomically.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

from multiview.core.errors import UserError
from multiview.core.io import atomic_write, write_json
from multiview.core.outputs import claim_output
from multiview.eval.commands import EVAL

HELP = EVAL["layers"].help


def run_name(run: str) -> str:
    """The model class of the run's config (``...rotation.Rotation`` -> ``Rotation``), else the file stem."""
    from multiview.eval.core.checkpoint import read_config, run_folder

    folder = run_folder(Path(run).expanduser().resolve())
    if folder is None:
        return Path(run).stem
    return str(read_config(folder)["model"]["class_path"]).rsplit(".", 1)[-1]


def image_encoder(run: str, which: str):
    """The run's encoder named ``which``; a run with a single encoder gives that one whatever
    ``which`` is, so runs of different methods can be compared in one call."""
    from multiview.eval.core.checkpoint import load_encoder

    try:
        encoder, modality = load_encoder(run, which)
    except UserError:
        if which in ("", "auto"):
            raise
        try:
            encoder, modality = load_encoder(run, "auto")
        except UserError:
            raise UserError(f"{run}: no encoder {which!r}, and more than one other; choose with --encoder") from None
    if modality != "frame":
        raise UserError(f"{run}: its encoder is a {modality} encoder; eval layers probes image (frame) encoders "
                        "(choose another with --encoder)")
    return encoder


def method_names(runs: list[str], names: str) -> list[str]:
    from multiview.eval.commands.compare import BASELINES

    if names:
        out = [n.strip() for n in names.split(",")]
        if len(out) != len(runs) or not all(out) or len(set(out)) != len(out):
            raise UserError(f"--names {names!r}: expected {len(runs)} distinct comma-separated names, one per run")
    else:
        out = []
        for run in runs:
            base = run_name(run)
            out.append(base if base not in out else f"{base}-{sum(n.split('-')[0] == base for n in out) + 1}")
    clash = set(out) & {*BASELINES, "raw_pixels", "gabor", "mfcc"}
    if clash:
        raise UserError(f"method names {sorted(clash)} are baseline names; rename with --names")
    return out


def markdown(table: dict, kinds: dict[str, str], layers: list[str]) -> str:
    """Rows = methods, columns = layers in depth order, then the best layer."""
    lines = ["| method | kind | " + " | ".join(layers) + " | best |", "|" + " --- |" * (len(layers) + 3)]
    for name, scores in table.items():
        best = max(scores, key=scores.get)
        cells = [f"{scores[layer]:.3f}" if layer in scores and kinds[name] != "hand_designed" else ""
                 for layer in layers]
        where = f" ({best})" if kinds[name] != "hand_designed" else ""
        lines.append(f"| {name} | {kinds[name]} | " + " | ".join(cells) + f" | {scores[best]:.3f}{where} |")
    return "\n".join(lines) + "\n"


def with_baselines(args, names: list[str], encoders: list, train, n_classes: int) -> tuple[dict, dict]:
    """``({method: module}, {method: kind})``: the runs, then random init and supervised once per
    architecture (qualified by the first run's name when there are several), then hand-designed."""
    from multiview.eval.commands.compare import representations
    from multiview.eval.core.baselines import arch_key

    wanted = [b for b in args.baselines.split(",") if b]
    archs = [arch_key(e) for e in encoders]
    reps, kinds = {}, {}
    for i, (name, encoder) in enumerate(zip(names, encoders)):
        reps[name], kinds[name] = encoder, "run"
        fresh = archs[i] not in archs[:i]
        asked = [b for b in wanted if (b == "hand_designed" and i == 0) or (b != "hand_designed" and fresh)]
        if not asked:
            continue
        sub = copy.copy(args)
        sub.baselines = ",".join(asked)  # sub.checkpoint stays the first run's: it names the data (--data run)
        for rep, (module, _) in representations(sub, encoder, "frame", train, n_classes).items():
            if rep == "ssl":
                continue
            kind = rep if rep in ("random_init", "supervised") else "hand_designed"
            label = rep if kind == "hand_designed" or len(set(archs)) == 1 else f"{rep} [{name}]"
            reps[label], kinds[label] = module, kind
    order = ("run", "random_init", "supervised", "hand_designed")
    reps = dict(sorted(reps.items(), key=lambda kv: order.index(kinds[kv[0]])))  # stable: runs in the given order
    return reps, {name: kinds[name] for name in reps}


def probe_layers(reps: dict, kinds: dict[str, str], splits, spatial: int) -> tuple[dict, list[str]]:
    """``({"top1"|"val_top1"|"dim": {method: {layer: figure}}}, layers in depth order)``: every
    layer of every network, the ``pool`` output of a hand-designed representation."""
    from multiview.eval.core.features import layer_names
    from multiview.eval.core.frozen import split_features
    from multiview.eval.metrics.linear import linear_probe

    table: dict[str, dict[str, dict[str, float]]] = {"top1": {}, "val_top1": {}, "dim": {}}
    layers: list[str] = []
    for name, module in reps.items():
        found = ["pool"] if kinds[name] == "hand_designed" else layer_names(module, splits[0])
        if kinds[name] != "hand_designed":
            layers += [layer for layer in found if layer not in layers]
        for layer, f in split_features(module, found, splits, spatial).items():
            r = linear_probe(f["train"], f["train_y"], f["val"], f["val_y"], f["test"], f["test_y"])
            table["top1"].setdefault(name, {})[layer] = r["top1"]
            table["val_top1"].setdefault(name, {})[layer] = r["val_top1"]
            table["dim"].setdefault(name, {})[layer] = int(f["train"].shape[1])
        print(f"  {name:<24} " + "  ".join(f"{k} {v:.3f}" for k, v in table["top1"][name].items()), flush=True)
    return table, layers


def main(argv: list[str]) -> int:
    from multiview.core import paths
    from multiview.eval.core.checkpoint import eval_dir
    from multiview.eval.core.datasets import add_data_args, data_tag, eval_splits
    from multiview.eval.core.plots import plot_layers

    parser = argparse.ArgumentParser(prog="multiview eval layers", description=HELP)
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders or .ckpt files (or encoder state_dicts)")
    parser.add_argument("--names", default="", help="comma-separated method names, one per run "
                        "(default: each run's model class)")
    parser.add_argument("--baselines", default="random_init,hand_designed,supervised",
                        help="comma-separated subset of random_init,hand_designed,supervised ('' for none)")
    parser.add_argument("--supervised-epochs", type=int, default=None,
                        help="epochs of the supervised ceiling (default: 15)")
    add_data_args(parser)
    parser.set_defaults(data="cifar10")
    args = parser.parse_args(argv)
    if args.out:  # a folder of the user's own files is refused before any work
        claim_output(args.out, "eval")
    if args.layer != "pool":
        raise UserError(f"--layer {args.layer}: eval layers probes every layer; use eval probe for one")
    for run in args.runs:
        if not Path(run).expanduser().exists():
            raise UserError(f"RUN {run}: does not exist")
    names = method_names(args.runs, args.names)
    encoders = [image_encoder(run, args.encoder) for run in args.runs]
    args.checkpoint = args.runs[0]  # --data run: the first run's clips
    train, val, test, classes = eval_splits(args, "frame", encoders[0])
    print(f"layers: {len(args.runs)} run(s) on {args.data}: {len(train)} train / {len(val)} val / "
          f"{len(test)} test, {len(classes)} classes", flush=True)

    reps, kinds = with_baselines(args, names, encoders, train, len(classes))
    table, layers = probe_layers(reps, kinds, (train, val, test), args.spatial)

    chance = 1.0 / len(classes)
    settings = {k: getattr(args, k) for k in ("data", "encoder", "spatial", "train_limit", "test_limit",
                                              "val_fraction", "size", "seed", "baselines", "supervised_epochs")}
    settings.update(runs=dict(zip(names, args.runs)), n_train=len(train), n_val=len(val), n_test=len(test),
                    n_classes=len(classes), chance=chance, probe="eval probe's linear probe")
    if args.out:
        out = Path(args.out)
    elif len(args.runs) == 1:
        out = eval_dir(args.runs[0], "layers", data_tag(args, "frame"))
    else:
        out = paths.runs_dir() / "eval" / "layers" / data_tag(args, "frame")
    write_json(out / "layers.json", {**table, "kind": kinds, "layers": layers, "settings": settings})
    text = markdown(table["top1"], kinds, layers)
    atomic_write(out / "layers.md", lambda f: f.write(text), mode="w")
    curves = {n: s for n, s in table["top1"].items() if kinds[n] != "hand_designed"}
    flat = {n: s["pool"] for n, s in table["top1"].items() if kinds[n] == "hand_designed"}
    plot_layers(curves, layers, flat, chance, f"linear probe per layer on {args.data} "
                f"(spatial {args.spatial}x{args.spatial}, {len(train)} train)", out / "layers.png",
                dashed=tuple(n for n in curves if kinds[n] != "run"))
    print(text, end="")
    print(f"wrote {out / 'layers.json'}, layers.md, layers.png")
    return 0
