"""Frame encoders learned from video, beside CMC: retrieval and the object-kind probe.

    python benchmarks/video_ssl.py --out X.json [--corpus embedded|FOLDER]
        [--methods cmc,simclr_video,byol_video,byol_av] [--workdir DIR]

Each method trains at its recipe's defaults on one corpus, with one held-out split for all:

- ``cmc``: audio-visual CMC (``recipes/quickstart.yaml``, ``cmc_av_folder.yaml`` on a folder);
- ``simclr_video``, ``byol_video``: the frame encoder from two moments of one clip (SimCLR's
  NT-Xent, BYOL's prediction without negatives);
- ``byol_av``: cross-modal BYOL, the frame predicts the sound's code (de Sa 1994's multiview
  prediction in its modern form).

On the held-out clips every run's frame encoder (pooled output) and the same architecture at
random init (BatchNorm statistics from the held-out frames) are measured by:

- ``<method>/moment/R@1``, ``R@5``: two moments of each held-out clip (a third and two thirds of
  the way in); the first moment's frame retrieves the second among every clip's second moment
  (cosine similarity);
- ``<method>/frame_to_audio/R@1``, ``audio_to_frame/R@1``: cross-modal retrieval, for the
  methods with a sound encoder (the retrieval report's figures, pooled or projected embeddings
  as the method compares them);
- ``<method>/probe/top1``: ``multiview eval probe --data run --encoder frame``, a linear probe of
  the object kind (the corpus's ``labels.tsv``) on frames of the training clips, tested on the
  held-out clips; skipped (and said) where the corpus is not labelled throughout.

Random-init figures go under ``<method>/random_init/...``; chance under ``chance/...``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multiview.cli.main import main as cli  # noqa: E402
from multiview.data.video.clips import ClipDataset  # noqa: E402
from multiview.eval.core.checkpoint import load_model, run_datamodule  # noqa: E402
from multiview.eval.core.embed import features_batch, random_init  # noqa: E402
from multiview.eval.core.paired import retrieval_figures  # noqa: E402
from multiview.eval.metrics.retrieval import chance_metrics, retrieval_metrics, similarity  # noqa: E402

METHODS = ("cmc", "simclr_video", "byol_video", "byol_av")
SYNTHETIC = "multiview.data.video.synthetic.SyntheticAV"
FOLDER = "multiview.data.video.datamodule.VideoFolderDataModule"
RECIPES = str(ROOT / "recipes")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fit_args(method: str, corpus: str, val_fraction: float) -> list[str]:
    """``multiview fit`` arguments of ``method`` on ``corpus`` ("embedded" or a folder)."""
    if corpus == "embedded":
        two_moments = ["--data", SYNTHETIC, "--data.n_clips", "320", "--data.val_clips", "64", "--data.frames", "2",
                       "--data.fps", "2.0", "--data.clips_per_video", "8", "--data.batch_size", "32"]
        return {"cmc": ["--config", RECIPES + "/quickstart.yaml"],
                "simclr_video": ["--config", RECIPES + "/simclr_video.yaml", *two_moments],
                "byol_video": ["--config", RECIPES + "/byol_video.yaml", *two_moments],
                "byol_av": ["--config", RECIPES + "/byol_av.yaml", "--data.n_clips", "320"]}[method]
    split = ["--data.index", corpus, "--data.val_clips", "null", "--data.val_fraction", str(val_fraction),
             "--data.no_audio", "skip"]  # the same held-out videos for every method
    return {"cmc": ["--config", RECIPES + "/cmc_av_folder.yaml", *split],
            "simclr_video": ["--config", RECIPES + "/simclr_video.yaml", *split],
            "byol_video": ["--config", RECIPES + "/byol_video.yaml", *split],
            "byol_av": ["--config", RECIPES + "/byol_av.yaml", "--data", FOLDER, *split, "--data.frame_size", "64",
                        "--data.clips_per_video", "8", "--data.batch_size", "32"]}[method]


def train(method: str, corpus: str, root: Path, val_fraction: float) -> tuple[Path, float]:
    run = root / method
    argv = ["fit", *fit_args(method, corpus, val_fraction), "--trainer.callbacks", "[]",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(run)]
    t0 = time.time()
    if cli(argv) != 0:
        raise RuntimeError(f"{method}: multiview fit failed")
    return run, time.time() - t0


def held_out_moments(dm) -> ClipDataset:
    """Two moments (positions uniform over the clip) of each of the data module's held-out clips."""
    te = dm.val_set
    return ClipDataset(te.records, frames=1, frame_size=te.frame_size, sample_rate=te.sample_rate,
                       audio_seconds=te.audio_seconds, clips_per_video=2, positions="uniform",
                       no_audio="silence", label_names=te.label_names)


@torch.no_grad()
def moment_figures(encoder: torch.nn.Module, frames: torch.Tensor) -> dict[str, float]:
    """Retrieval of each clip's second moment (odd rows of ``frames``) by its first (even rows)."""
    z = torch.cat([encoder(chunk) for chunk in frames.split(64)])
    return retrieval_metrics(similarity(z[0::2], z[1::2]))


def evaluate(method: str, run: Path, out_dir: Path, dm, moments: ClipDataset) -> dict[str, float]:
    out: dict[str, float] = {}
    model = load_model(run)
    view = "frame" if "frame" in model.encoders() else next(iter(model.encoders()))  # SimCLR's is "image"
    encoder = model.encoders()[view].eval()
    frames = torch.stack([moments[i]["frame"] for i in range(len(moments))])  # decoded once, used three times
    baseline = random_init(encoder, [{"input": chunk} for chunk in frames.split(64)], features_batch)
    for name, enc in (("", encoder), ("random_init/", baseline)):
        for k, v in moment_figures(enc, frames).items():
            out[f"{method}/{name}moment/{k}"] = v
    out[f"{method}/n_held_out"] = float(len(moments) // 2)
    if {"frame", "audio"} <= set(model.encoders()):
        figures, _ = retrieval_figures(model, dm.val_dataloader())
        for key, v in figures.items():
            if key.endswith("/R@1") and ("frame_to_audio" in key or "audio_to_frame" in key):
                out[f"{method}/{key.removeprefix('retrieval/')}"] = v
    labels = moments.labels
    if labels and min(labels) >= 0:
        probe_out = out_dir / f"{method}_probe"
        if cli(["eval", "probe", "--checkpoint", str(run), "--encoder", view, "--data", "run",
                "--baselines", "random_init", "--out", str(probe_out)]) != 0:
            raise RuntimeError(f"{method}: multiview eval probe failed")
        probe = json.loads((probe_out / "probe.json").read_text())
        out[f"{method}/probe/top1"] = probe["probe/top1"]
        out[f"{method}/random_init/probe/top1"] = probe["probe/random_init/top1"]
        out["chance/probe/top1"] = probe["probe/chance/top1"]
    else:
        log(f"  {method}: the held-out clips are not all labelled; no object-kind probe")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--corpus", default="embedded", help="'embedded' (the synthetic world) or a video folder/index")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--val-fraction", type=float, default=0.25, help="held-out share of a folder (by path hash)")
    p.add_argument("--workdir", default="", help="where the runs go (default: a temporary folder); a method whose "
                   "run finished (RUN/done) is not trained again")
    a = p.parse_args(argv)
    methods = [m for m in a.methods.split(",") if m]
    if set(methods) - set(METHODS):
        p.error(f"--methods: expected a subset of {','.join(METHODS)}, got {a.methods}")
    root = Path(a.workdir or tempfile.mkdtemp(prefix="video_ssl_"))
    out: dict = {"settings/corpus": a.corpus, "settings/methods": ",".join(methods)}
    held_out = None
    for m in methods:
        done = root / m / "done"
        if done.exists():
            run = root / m
            seconds = float(done.read_text() or 0)
        else:
            run, seconds = train(m, a.corpus, root, a.val_fraction)
            done.write_text(f"{seconds:.1f}")
        dm = run_datamodule(run)
        moments = held_out_moments(dm)
        paths = [r["path"] for r in moments.records]
        if held_out is not None and paths != held_out:
            raise SystemExit(f"video_ssl: {m}'s held-out clips differ from {methods[0]}'s ({len(paths)} against "
                             f"{len(held_out)}); the figures would not be comparable")
        if held_out is None:
            out.update({f"chance/moment/{k}": v for k, v in chance_metrics(len(paths)).items()})
        held_out = paths
        figures = evaluate(m, run, root, dm, moments)
        figures[f"{m}/train_seconds"] = round(seconds, 1)
        out.update(figures)
        shown = {k.split("/", 1)[1]: v for k, v in figures.items() if k.endswith(("R@1", "top1"))}
        log("  " + "  ".join(f"{k} {v:.3f}" for k, v in shown.items()))
        Path(a.out).write_text(json.dumps(out, indent=1, sort_keys=True))
    print(json.dumps(out, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
