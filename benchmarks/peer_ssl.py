"""Our SimCLR, MoCo v2, BYOL, SimSiam and DINO beside lightly's, on the same images for the same wall clock.

    python benchmarks/peer_ssl.py [--data ../shared/data/images/cifar10-jpg.tar] [--minutes 15] \
        [--methods simclr,moco,byol,simsiam,dino] [--encoder small_resnet|resnet18] --out X.json
    # or the two sides at once, each on its own core, then one table:
    taskset -c 0 python benchmarks/peer_ssl.py --side ours --threads 1 --out ours.json &
    taskset -c 1 python benchmarks/peer_ssl.py --side lightly --threads 1 --out lightly.json; wait
    python benchmarks/peer_ssl.py --merge ours.json lightly.json --out X.json

For each method, ours trains through our own fit path (``multiview fit`` on its recipe,
``recipes/<method>_cifar10.yaml``, called in this process), then lightly's (:mod:`peer_lightly`:
lightly's loss, heads, transforms, momentum utilities and ``LightlyDataset``, in a plain
LightningModule), one after the other in this one process with torch's threads fixed. Both get
the same backbone (our encoder registry: ``small_resnet`` width 16, or ``resnet18`` with the
32 px stem), the same training images (the recipe's class-balanced ``--train-limit`` subset),
batch size, DataLoader workers, optimizer settings (the recipe's AdamW, learning rate, weight
decay, warmup then cosine fitted to the time budget) and ``--trainer.max_time``.

Both encoders are then probed the same way: the protocol of ``multiview eval layers``
(:func:`multiview.eval.commands.layers.probe_layers`: every layer, standardised features, a
logistic-regression probe with ``C`` chosen on validation), reported at the layer with the best
validation top-1; and a weighted kNN (Wu et al. 2018, Sec. 3.4: k = 200, tau = 0.07, as lightly's
benchmarks) on the pooled output, training + validation split as the memory. Each accuracy comes
with its standard error ``sqrt(p (1 - p) / n)`` over the ``n`` test images.

JSON: ``<method>/{ours,lightly}/{steps,seconds,images_per_s,probe_top1,probe_se,probe_layer,knn_top1,
knn_se,n}``, ``<method>/ratio/{images_per_s,probe_top1,knn_top1}`` (ours / lightly) and ``settings``.
lightly is an optional extra: ``pip install -e '.[peers]'``.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from multiview.core.io import write_json  # noqa: E402

METHODS = ("simclr", "moco", "byol", "simsiam", "dino")
DATA = ROOT.parent / "shared" / "data" / "images" / "cifar10-jpg.tar"
ENCODERS = {"small_resnet": {"name": "small_resnet", "width": 16}, "resnet18": {"name": "resnet18_cifar"}}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def recipe(method: str) -> dict:
    return yaml.safe_load((ROOT / "recipes" / f"{method}_cifar10.yaml").read_text())


def hyperparameters(method: str) -> tuple[dict, dict]:
    """``(method knobs, optimizer knobs)``: the recipe's ``init_args`` over our class's defaults."""
    import importlib
    import inspect

    from multiview.methods.base import Method

    model = recipe(method)["model"]
    module, name = model["class_path"].rsplit(".", 1)
    defaults = {}
    for cls in (Method, getattr(importlib.import_module(module), name)):
        defaults.update({k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
                         if p.default is not inspect.Parameter.empty})
    hp = {**defaults, **model.get("init_args", {})}
    if hp.get("optimizer", "adamw") != "adamw":
        raise SystemExit(f"peer_ssl: recipe {method}: expected the adamw optimizer, got {hp['optimizer']}")
    return hp, {k: hp[k] for k in ("lr", "weight_decay", "warmup_fraction")}


def budget(minutes: float) -> dict:
    return {"seconds": max(1, int(round(minutes * 60)))}


def train_ours(method: str, a, run: Path) -> dict:
    from multiview.cli.main import main as cli

    clock = run.parent / f"{run.name}.clock.json"
    argv = ["fit", "--config", str(ROOT / "recipes" / f"{method}_cifar10.yaml"), "--data.path", a.data,
            "--data.train_limit", str(a.train_limit), "--data.batch_size", str(a.batch_size),
            "--data.num_workers", str(a.workers), "--model.encoder", json.dumps(ENCODERS[a.encoder]),
            "--trainer.max_epochs", "-1", "--trainer.max_time", json.dumps(budget(a.minutes)),
            "--trainer.callbacks", json.dumps([{"class_path": "peer_lightly.TrainClock",
                                                "init_args": {"path": str(clock)}}]),
            "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false",
            "--trainer.default_root_dir", str(run), "--seed_everything", str(a.seed), *shlex.split(a.ours_args)]
    if cli(argv) != 0:
        raise SystemExit(1)  # multiview fit has printed why
    return json.loads(clock.read_text())


def lightly_loader(method: str, a, hp: dict):
    """Lightly's dataset over the same training images as ours (the recipe's class-balanced subset)."""
    from lightly.data import LightlyDataset
    from peer_lightly import transform

    from multiview.data.image.images import ImageFolderData, list_split, resolve_root

    root = resolve_root(a.data)
    files, labels, _ = list_split(root, "train")
    keep, _ = ImageFolderData(seed=0)._subset(np.arange(len(files)), np.asarray(labels), a.train_limit)
    base = root / "train" if (root / "train").is_dir() else root
    names = [str(files[i].relative_to(base)) for i in keep]
    data = LightlyDataset(str(base), transform=transform(method, 32, hp), filenames=names)
    return torch.utils.data.DataLoader(data, batch_size=a.batch_size, shuffle=True, drop_last=True,
                                       num_workers=a.workers, persistent_workers=a.workers > 0)


def train_lightly(method: str, a, run: Path):
    import lightning as L
    from peer_lightly import MODULES, TrainClock

    from multiview.encoders.registry import build
    from multiview.run.time_budget import FitScheduleToTime

    hp, opt = hyperparameters(method)
    L.seed_everything(a.seed)
    model = MODULES[method](build(ENCODERS[a.encoder]), opt, hp)
    clock = run.parent / f"{run.name}.clock.json"
    cuda = torch.cuda.is_available()
    trainer = L.Trainer(max_epochs=-1, max_time=budget(a.minutes), accelerator="auto", devices=1,
                        precision="bf16-mixed" if cuda else "32-true", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(run),
                        callbacks=[FitScheduleToTime(), TrainClock(str(clock))])
    trainer.fit(model, lightly_loader(method, a, hp))
    return model.backbone, json.loads(clock.read_text())


def evaluate(encoders: dict, splits) -> dict:
    """Per encoder: the eval-layers probe at the best validation layer, and kNN (k 200, tau 0.07) on ``pool``."""
    from multiview.eval.commands.layers import probe_layers
    from multiview.eval.core.frozen import split_features
    from multiview.eval.metrics.knn import knn_top1

    table, _ = probe_layers(encoders, {name: "run" for name in encoders}, splits, 1)
    out = {}
    for name, module in encoders.items():
        layer = max(table["val_top1"][name], key=table["val_top1"][name].get)
        f = split_features(module, ["pool"], splits, 1)["pool"]
        knn = knn_top1(torch.cat([f["train"], f["val"]]), torch.cat([f["train_y"], f["val_y"]]), f["test"],
                       f["test_y"], k=200, temperature=0.07)
        n, p = len(f["test_y"]), table["top1"][name][layer]
        out[name] = {"probe_top1": p, "probe_se": math.sqrt(p * (1 - p) / n), "probe_layer": layer,
                     "knn_top1": knn, "knn_se": math.sqrt(knn * (1 - knn) / n), "n": n}
    return out


def probe_splits(a, encoder):
    from multiview.eval.core.datasets import add_data_args, eval_splits

    parser = argparse.ArgumentParser()
    add_data_args(parser)
    args = parser.parse_args(["--data", a.data, "--train-limit", str(a.probe_train),
                              "--test-limit", str(a.probe_test), "--seed", str(a.seed)])
    return eval_splits(args, "frame", encoder)[:3]


def add_ratios(row: dict) -> None:
    """``row["ratio"]``: ours / lightly for images/s, probe and kNN top-1, where both sides are in ``row``."""
    if "ours" in row and "lightly" in row:
        row["ratio"] = {k: row["ours"][k] / max(row["lightly"][k], 1e-9)
                        for k in ("images_per_s", "probe_top1", "knn_top1")}


def merge(files: list[str], out: str) -> int:
    """One JSON from the ``--side ours`` and ``--side lightly`` runs (one core each), with the ratios."""
    merged: dict = {"settings": {}}
    for name in files:
        try:
            part = json.loads(Path(name).read_text())
            side = part["settings"].get("side", "both")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            print(f"peer_ssl: --merge {name}: not a peer_ssl.py JSON file ({type(e).__name__}: {e})", file=sys.stderr)
            return 2
        merged["settings"][side] = part["settings"]
        for m, row in part.items():
            if m != "settings":
                merged.setdefault(m, {}).update({k: v for k, v in row.items() if k != "ratio"})
    for m, row in merged.items():
        if m != "settings":
            add_ratios(row)
    write_json(Path(out), merged)
    print(json.dumps(merged, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(DATA), help="CIFAR-10 tar or image folder (train/<class>, test/<class>)")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--minutes", type=float, default=15.0, help="training wall clock per method and side (default 15)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--encoder", default="small_resnet", choices=sorted(ENCODERS))
    p.add_argument("--train-limit", type=int, default=50000, help="unlabelled training images (default 50000)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers, both sides (default 0, as the recipes)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads, both sides")
    p.add_argument("--probe-train", type=int, default=10000, help="labelled images for probe and kNN (train + val)")
    p.add_argument("--probe-test", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default="", help="where the runs go (default: a temporary folder)")
    p.add_argument("--ours-args", default="", help="extra multiview fit options for our side, e.g. "
                   "'--model.bn_groups 1' (MoCo's shuffle without BatchNorm groups: the keys of shuffle_bn none)")
    p.add_argument("--side", default="both", choices=("both", "ours", "lightly"),
                   help="train and probe one side only (run the two sides at once, each pinned to its own core "
                        "with taskset, then --merge); default both, one after the other")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="combine the --side runs' JSON files into --out")
    a = p.parse_args(argv)
    if a.merge:
        return merge(a.merge, a.out)
    try:
        import peer_lightly  # noqa: F401
    except ImportError:
        print("peer_ssl: lightly is not installed; install it with pip install -e '.[peers]'", file=sys.stderr)
        return 2
    if not Path(a.data).exists():
        p.error(f"--data {a.data}: no such file or folder; expected the CIFAR-10 tar or a train/<class> folder")
    methods = [m for m in a.methods.split(",") if m]
    if not methods or set(methods) - set(METHODS):
        p.error(f"--methods: expected a subset of {','.join(METHODS)}, got {a.methods!r}")
    torch.set_num_threads(a.threads)
    root = Path(a.workdir or tempfile.mkdtemp(prefix="peer_ssl_"))
    root.mkdir(parents=True, exist_ok=True)
    kept = ("side", "data", "minutes", "encoder", "train_limit", "batch_size", "workers", "threads", "probe_train",
            "probe_test", "seed", "ours_args")
    out: dict = {"settings": {k: getattr(a, k) for k in kept}}
    out["settings"].update(device=torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                           knn={"k": 200, "temperature": 0.07}, probe="multiview eval layers, best validation layer")
    splits = None
    sides = ("ours", "lightly") if a.side == "both" else (a.side,)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for m in methods:
        fit, encoders = {}, {}
        if "ours" in sides:
            log(f"{m}: ours for {a.minutes:g} min on {a.threads} threads")
            fit["ours"] = train_ours(m, a, root / f"{m}_ours")
            from multiview.eval.core.checkpoint import load_encoder

            encoders["ours"] = load_encoder(str(root / f"{m}_ours"), "auto")[0].to(device).eval()
        if "lightly" in sides:
            log(f"{m}: lightly for {a.minutes:g} min on {a.threads} threads")
            theirs, fit["lightly"] = train_lightly(m, a, root / f"{m}_lightly")
            encoders["lightly"] = theirs.float().to(device).eval()
        splits = splits or probe_splits(a, next(iter(encoders.values())))
        figures = evaluate(encoders, splits)
        out[m] = {}
        for side in encoders:
            steps, seconds = fit[side]["steps"], fit[side]["seconds"]
            out[m][side] = {"steps": steps, "seconds": round(seconds, 1),
                            "images_per_s": steps * a.batch_size / max(seconds, 1e-9), **figures[side]}
        add_ratios(out[m])
        log(f"{m}: " + "  ".join(f"{s} {out[m][s]['images_per_s']:.0f} img/s probe {out[m][s]['probe_top1']:.3f} "
                                 f"kNN {out[m][s]['knn_top1']:.3f}" for s in encoders))
        write_json(Path(a.out), out)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
