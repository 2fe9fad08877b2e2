"""Self-supervised methods on CIFAR-10 for the same wall-clock budget, beside every baseline.

    python benchmarks/cifar10_budget.py --data ../shared/data/images/cifar10-jpg.tar --out X.json \
        [--minutes 15] [--methods instdisc,moco,simclr,byol,simsiam,dino]

Each method trains through ``multiview fit`` from its recipe (``recipes/<method>_cifar10.yaml``:
small_resnet width 16 at 32 px, batch views made on the batch) for ``--minutes`` of wall clock on
this machine: ``--trainer.max_time`` alone bounds the fit, so its learning-rate schedule is
fitted to the time as it goes (:mod:`multiview.run.time_budget`) and decays to the end of the
budget.
Every encoder is then probed with the protocol of ``multiview eval probe`` (its functions, not a
copy: the class-balanced splits, a logistic-regression probe on the pooled features, C chosen on
the validation split) beside raw pixels, Gabor features, the encoder at random init
(BatchNorm statistics from the data) and the same architecture trained with labels for the same
budget (epochs that fit in ``--minutes``, timed on one epoch). For the best method a curve of
probe accuracy at 5, 15 and 30 minutes (scaled by ``--minutes / 15``) is added.

``--jobs J`` (default 2) trains J runs at once, each in its own process on cores / J threads, so
every method gets the same share of the machine for the same wall clock. With the defaults the
six methods take 3 x 15 minutes, then the supervised network with the curve's 5-minute run beside
the 30-minute one takes 30: the table fits in one 2-hour run. ``--jobs 1`` gives each run the
whole machine, one after another (about 140 minutes of training at the defaults);
``--jobs 1 --minutes 30 --methods simclr --no-curve --no-supervised`` is one method on the whole
machine for 30 minutes, beside the baselines.

``--layers all --spatial S`` probes every layer of each network (trained, random init,
supervised) with its maps average-pooled to an S x S grid, and keeps the layer with the best
validation top-1, as the layer-wise probes of Zhang et al. 2017 (Table 2) do; the Gabor features
are pooled on their own 4 x 4 grid either way. The default probes the globally pooled output.

Why this encoder: at 32 px on 2 CPU cores a width-16 small ResNet (0.7 M parameters) runs
several times more images per second than a ResNet-18, and in a 15-minute budget the number of
images seen matters more than width (the ResNet-18 anchors need 10+ epochs of 50k images).

JSON keys: ``<method>/top1`` (and ``/val_top1``, ``/layer``, ``/dim``, ``/steps``, ``/train_seconds``), the baselines
``raw_pixels/top1``, ``gabor/top1``, ``random_init/top1``, ``supervised/top1`` (with
``supervised/epochs``), ``best``, ``curve/<method>/<minutes>min/top1``, and the settings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multiview.cli.main import main as cli  # noqa: E402
from multiview.encoders.registry import feature_shapes  # noqa: E402
from multiview.eval.commands.compare import add_report_args, representations  # noqa: E402
from multiview.eval.core.checkpoint import load_encoder  # noqa: E402
from multiview.eval.core.datasets import eval_splits  # noqa: E402
from multiview.eval.core.embed import random_like  # noqa: E402
from multiview.eval.core.frozen import split_features  # noqa: E402
from multiview.eval.core.training import train_classifier  # noqa: E402
from multiview.eval.metrics.linear import linear_probe  # noqa: E402

METHODS = ("instdisc", "moco", "simclr", "byol", "simsiam", "dino")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train(method: str, data: str, minutes: float, run: Path, train_limit: int, batch_size: int) -> dict:
    """Fit ``method``'s recipe for ``minutes`` of training into ``run``; returns its steps and seconds."""
    recipe = ROOT / "recipes" / f"{method}_cifar10.yaml"
    budget = max(1, int(round(minutes * 60)))
    argv = ["fit", "--config", str(recipe), "--data.path", data, "--data.train_limit", str(train_limit),
            "--data.batch_size", str(batch_size), "--trainer.max_epochs", "-1",
            "--trainer.max_time", f"00:00:{budget // 60:02d}:{budget % 60:02d}", "--trainer.callbacks", "[]",
            "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false",
            "--trainer.default_root_dir", str(run)]
    log(f"{method}: {minutes:g} min on {torch.get_num_threads()} threads")
    t0 = time.time()
    if cli(argv) != 0:
        raise SystemExit(1)  # multiview fit has printed why
    steps = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]
    return {"steps": steps, "seconds": time.time() - t0}


def run_name(method: str, minutes: float) -> str:
    return f"{method}_{minutes:g}min"


def run_lanes(tasks: list[tuple[float, list[str]]], jobs: int, threads: int) -> None:
    """Run each task (its minutes, this script's worker arguments) in its own process, ``jobs`` at a
    time on ``threads`` threads each; the longest go first, each to the lane that ends soonest."""
    lanes: list[list[list[str]]] = [[] for _ in range(max(1, jobs))]
    load = [0.0] * len(lanes)
    for minutes, argv in sorted(tasks, key=lambda t: -t[0]):
        i = load.index(min(load))
        lanes[i].append(argv)
        load[i] += minutes
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    failed: list[str] = []

    def lane(argvs: list[list[str]]) -> None:
        for argv in argvs:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", *argv, "--threads", str(threads)]
            if subprocess.run(cmd, env=env).returncode != 0:
                failed.append(" ".join(argv[:2]))

    workers = [threading.Thread(target=lane, args=(argvs,)) for argvs in lanes if argvs]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failed:
        raise SystemExit(f"cifar10_budget: these runs failed (their messages are above): {', '.join(failed)}")


def worker(argv: list[str]) -> int:
    """One run in its own process: ``fit METHOD MINUTES ...`` or ``supervised CHECKPOINT MINUTES ...``."""
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=("fit", "supervised"))
    p.add_argument("what")
    p.add_argument("minutes", type=float)
    p.add_argument("--data", required=True)
    p.add_argument("--root", required=True)
    for name in ("--train-limit", "--batch-size", "--probe-train", "--probe-test", "--threads"):
        p.add_argument(name, type=int, required=True)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    root = Path(a.root)
    if a.kind == "fit":
        run = root / run_name(a.what, a.minutes)
        r = train(a.what, a.data, a.minutes, run, a.train_limit, a.batch_size)
        (root / f"{run.name}.json").write_text(json.dumps(r))
        return 0
    args = probe_args(a.what, a.data, a.probe_train, a.probe_test, "")
    encoder, modality = load_encoder(args.checkpoint, args.encoder)
    train_set, _, _, classes = eval_splits(args, modality, encoder)
    sup, epochs = supervised_for(encoder, train_set, len(classes), a.minutes)
    torch.save(sup.state_dict(), root / "supervised.pt")
    (root / "supervised.json").write_text(json.dumps({"epochs": epochs}))
    log(f"supervised: {epochs} epochs in {a.minutes:g} min on {a.threads} threads")
    return 0


def probe_args(checkpoint: str, data: str, train_limit: int, test_limit: int, wanted: str):
    parser = argparse.ArgumentParser()
    add_report_args(parser)
    return parser.parse_args(["--checkpoint", checkpoint, "--data", data, "--train-limit", str(train_limit),
                              "--test-limit", str(test_limit), "--baselines", wanted])


def probe(module, splits, layers: str = "pool", spatial: int = 1) -> dict[str, float]:
    """Linear probe of ``module``'s layer with the best validation top-1 among ``layers`` ("all":
    every layer of ``features()``), maps pooled to a ``spatial`` grid; ``layer`` names the one kept."""
    names = list(feature_shapes(module)) if layers == "all" else layers.split(",")
    feats = split_features(module, names, splits, spatial)
    best = None
    for name in names:
        f = feats[name]
        r = linear_probe(f["train"], f["train_y"], f["val"], f["val_y"], f["test"], f["test_y"])
        if best is None or r["val_top1"] > best["val_top1"]:
            best = {**r, "layer": name, "dim": float(f["train"].shape[1])}
    return best


def supervised_for(encoder, train, n_classes: int, minutes: float) -> tuple[torch.nn.Module, int]:
    """The encoder's architecture trained with labels for as many epochs as fit in ``minutes``."""
    t0 = time.time()
    trial = random_like(encoder, 0).requires_grad_(True)
    train_classifier(trial, torch.nn.Linear(trial.out_dim, n_classes), train, "frame", epochs=1)
    epochs = max(1, math.floor(minutes * 60 / max(1e-3, time.time() - t0)))
    fresh = random_like(encoder, 0).requires_grad_(True)
    train_classifier(fresh, torch.nn.Linear(fresh.out_dim, n_classes), train, "frame", epochs=epochs)
    return fresh.eval(), epochs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="CIFAR-10 tar or folder (train/<class>, test/<class>)")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--minutes", type=float, default=15.0, help="training budget per method (default 15)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--train-limit", type=int, default=50000, help="unlabelled training images for SSL")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--probe-train", type=int, default=4000, help="labelled images for the probe (and supervised)")
    p.add_argument("--probe-test", type=int, default=2000)
    p.add_argument("--layers", default="pool", help="'pool', comma-separated layer names, or 'all': each "
                   "network is probed at the layer with the best validation top-1 (default: pool)")
    p.add_argument("--spatial", type=int, default=1, help="pool spatial maps to SxS before the probe (default 1)")
    p.add_argument("--no-curve", action="store_true", help="skip the 5/15/30-minute curve of the best method")
    p.add_argument("--no-supervised", action="store_true", help="skip the supervised network")
    p.add_argument("--workdir", default="", help="where the runs go (default: a temporary folder)")
    p.add_argument("--jobs", type=int, default=2, help="runs trained at once, each on cores / jobs threads (default 2)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker(argv[1:])
    a = p.parse_args(argv)
    if not Path(a.data).exists():
        p.error(f"--data {a.data}: no such file or folder; "
                "expected the CIFAR-10 tar or a folder of train/<class>, test/<class>")
    methods = [m for m in a.methods.split(",") if m]
    if set(methods) - set(METHODS):
        p.error(f"--methods: expected a subset of {','.join(METHODS)}, got {a.methods}")
    root = Path(a.workdir or tempfile.mkdtemp(prefix="cifar10_budget_"))
    out = {"settings/minutes": a.minutes, "settings/train_limit": a.train_limit,
           "settings/probe_train": a.probe_train, "settings/probe_test": a.probe_test,
           "settings/threads": torch.get_num_threads(), "settings/encoder": "small_resnet width 16, 32 px",
           "settings/layers": a.layers, "settings/spatial": a.spatial}
    threads = max(1, torch.get_num_threads() // max(1, a.jobs))
    out.update({"settings/jobs": a.jobs, "settings/threads_per_run": threads})
    common = ["--data", a.data, "--root", str(root), "--train-limit", str(a.train_limit),
              "--batch-size", str(a.batch_size), "--probe-train", str(a.probe_train), "--probe-test", str(a.probe_test)]
    log(f"training {len(methods)} methods for {a.minutes:g} min each, {a.jobs} at a time on {threads} threads each")
    run_lanes([(a.minutes, ["fit", m, f"{a.minutes:g}", *common]) for m in methods], a.jobs, threads)

    splits = encoder = None
    for i, m in enumerate(methods):
        run = root / run_name(m, a.minutes)
        args = probe_args(str(run), a.data, a.probe_train, a.probe_test, "random_init,hand_designed" if i == 0 else "")
        encoder, modality = load_encoder(args.checkpoint, args.encoder)
        train_set, val, test, classes = eval_splits(args, modality, encoder)
        splits = (train_set, val, test)
        for name, (module, layer) in representations(args, encoder, modality, train_set, len(classes)).items():
            network = name in ("ssl", "random_init")
            r = probe(module, splits, a.layers if network else layer, a.spatial if network else 1)
            key = m if name == "ssl" else name
            out.update({f"{key}/top1": r["top1"], f"{key}/val_top1": r["val_top1"], f"{key}/layer": r["layer"],
                        f"{key}/dim": r["dim"]})
            log(f"  {key:<12} top-1 {r['top1']:.4f} ({r['layer']}, {r['dim']:.0f} dims)")
        fit = json.loads((root / f"{run.name}.json").read_text())
        out.update({f"{m}/steps": fit["steps"], f"{m}/train_seconds": round(fit["seconds"], 1)})
        Path(a.out).write_text(json.dumps(out, indent=1, sort_keys=True))
    best = max(methods, key=lambda m: out[f"{m}/top1"])
    out["best"] = best

    curve = {} if a.no_curve else {5: a.minutes / 3, 30: a.minutes * 2}
    first = str(root / run_name(methods[0], a.minutes))
    supervised = [] if a.no_supervised else [(a.minutes, ["supervised", first, f"{a.minutes:g}", *common])]
    run_lanes(supervised + [(minutes, ["fit", best, f"{minutes:g}", *common]) for minutes in curve.values()],
              a.jobs, threads)
    if supervised:
        sup = random_like(encoder, 0)
        sup.load_state_dict(torch.load(root / "supervised.pt", weights_only=True))
        r = probe(sup.eval(), splits, a.layers, a.spatial)
        epochs = json.loads((root / "supervised.json").read_text())["epochs"]
        out.update({"supervised/top1": r["top1"], "supervised/layer": r["layer"], "supervised/epochs": epochs})
        log(f"  supervised   top-1 {r['top1']:.4f} ({epochs} epochs)")
    points = {**curve, 15: a.minutes} if curve else {}
    for label, minutes in sorted(points.items()):
        if label == 15:
            top1 = out[f"{best}/top1"]
        else:
            top1 = probe(load_encoder(str(root / run_name(best, minutes)), "auto")[0], splits, a.layers,
                         a.spatial)["top1"]
        out[f"curve/{best}/{label}min/top1"] = top1
        out[f"curve/{best}/{label}min/minutes"] = minutes
        log(f"  curve {best} {minutes:g} min: {top1:.4f}")
    Path(a.out).write_text(json.dumps(out, indent=1, sort_keys=True))
    print(json.dumps(out, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
