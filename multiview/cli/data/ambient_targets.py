"""``multiview data ambient_targets FOLDER --out TARGETS``: fit ambient-sound targets on a video folder.

Windows of ``--window`` seconds every ``--hop`` seconds of every video with sound; PCA + k-means
(or the sign-of-PCA binary code) on their sound-texture statistics
(:mod:`multiview.objectives.ambient_corpus`). ``--report JSON`` scores how well the clusters group
windows of like sound, when ``labels.tsv`` sits beside the videos.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from multiview.core.io import write_json
from multiview.core.outputs import claim_file
from multiview.objectives.ambient_corpus import agreement_report, fit_folder
from multiview.objectives.ambient_targets import MODES


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="multiview data ambient_targets", description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="folder of videos")
    ap.add_argument("--out", type=Path, required=True, help="where to save the fitted targets (.pt)")
    ap.add_argument("--mode", choices=MODES, default="clusters")
    ap.add_argument("--k", type=int, default=30, help="number of clusters")
    ap.add_argument("--n-bits", type=int, default=30, help="bits of the binary code (--mode binary)")
    ap.add_argument("--n-components", type=int, default=32, help="PCA dimensions before k-means")
    ap.add_argument("--window", type=float, default=3.75, help="seconds of sound per target")
    ap.add_argument("--hop", type=float, default=1.875, help="seconds between windows")
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", type=Path, help="JSON with cluster/label agreement (needs labels.tsv)")
    args = ap.parse_args(argv)
    claim_file(args.out, "data ambient_targets")
    if args.report:
        claim_file(args.report, "data ambient_targets", option="--report")
    targets, stats, owners, files = fit_folder(args.folder, args.mode, args.k, args.n_bits, args.n_components,
                                               args.window, args.hop, args.sample_rate, args.device, args.seed)
    targets.save(args.out)
    print(f"{len(files)} clips, {len(stats)} windows of {args.window:g} s, {stats.shape[1]} statistics; "
          f"{args.mode} targets ({targets.n_classes}) saved to {args.out}")
    if args.report:
        result = agreement_report(args.folder, targets, stats, owners, files, args.window, args.seed)
        write_json(args.report, result)
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    return 0
