"""``multiview data ambient_targets FOLDER --out TARGETS``: fit ambient-sound targets on a video folder.

Every video with sound under ``FOLDER`` is cut into windows of ``--window`` seconds (3.75 s in
Owens et al. 2016) every ``--hop`` seconds; each window's sound-texture statistics
(:mod:`multiview.objectives.sound_texture`) are computed in batches, and PCA + k-means (or the
sign-of-PCA binary code) is fitted on them (:mod:`multiview.objectives.ambient_targets`). The
fitted targets are saved as tensors; the method loads them with ``targets_path``.

When ``labels.tsv`` (file, label) sits beside the videos, ``--report JSON`` also scores how well
the clusters group windows of like sound: adjusted mutual information between cluster and label,
against two nulls: random assignment with the same cluster sizes, and a null that keeps every
clip's windows together but sends whole clips to random clusters (which is what a clustering that
only recognised individual clips would score).
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from multiview.data.video import decode
from multiview.data.video.annotations import read_tsv
from multiview.data.video.index import VIDEO_EXTENSIONS
from multiview.core.errors import UserError
from multiview.core.io import write_json
from multiview.objectives.ambient_targets import MODES, AmbientTargets
from multiview.objectives.sound_texture import SoundTexture


def window_starts(n_samples: int, window: int, hop: int) -> list[int]:
    """Start samples of full windows; a clip shorter than one window gives one zero-padded window."""
    if n_samples <= window:
        return [0]
    return list(range(0, n_samples - window + 1, hop))


def folder_statistics(folder: Path, texture: SoundTexture, window_s: float, hop_s: float,
                      batch_size: int = 32, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Statistics ``[N, D]`` of every window, the clip index ``[N]`` of each, and the clips' paths."""
    sr = texture.sample_rate
    window, hop = int(round(window_s * sr)), max(1, int(round(hop_s * sr)))
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
    texture = texture.to(device)
    stats, owners, kept, pending = [], [], [], []

    def flush():
        if pending:
            stats.append(texture(torch.stack(pending).to(device)).cpu())
            pending.clear()

    for path in files:
        try:
            track = decode.audio_track(path, sr)
        except decode.DecodeError as e:
            warnings.warn(f"skipping {e}", stacklevel=2)
            continue
        if track.size == 0 or not np.isfinite(track).all():
            warnings.warn(f"skipping {path}: no usable audio", stacklevel=2)
            continue
        clip = len(kept)
        kept.append(str(path))
        for s in window_starts(track.size, window, hop):
            w = np.zeros(window, dtype=np.float32)
            piece = track[s : s + window]
            w[: piece.size] = piece
            pending.append(torch.from_numpy(w))
            owners.append(clip)
            if len(pending) == batch_size:
                flush()
    flush()
    if not kept:
        raise UserError(f"{folder}: no video with decodable sound (looked for {', '.join(VIDEO_EXTENSIONS)})")
    return torch.cat(stats), torch.tensor(owners), kept


def cluster_label_agreement(clusters: np.ndarray, labels: np.ndarray, owners: np.ndarray,
                            draws: int = 200, seed: int = 0) -> dict[str, float]:
    """AMI(cluster, label) and the same under the two nulls of the module docstring."""
    from sklearn.metrics import adjusted_mutual_info_score as ami

    rng = np.random.default_rng(seed)
    observed = ami(labels, clusters)
    shuffled = np.array([ami(labels, rng.permutation(clusters)) for _ in range(draws)])
    n_clusters = int(clusters.max()) + 1
    clip_level = []
    for _ in range(draws):
        per_clip = rng.integers(n_clusters, size=int(owners.max()) + 1)
        clip_level.append(ami(labels, per_clip[owners]))
    clip_level = np.array(clip_level)
    return {"ami": float(observed),
            "ami_random_mean": float(shuffled.mean()), "ami_random_std": float(shuffled.std()),
            "ami_random_p": float((1 + (shuffled >= observed).sum()) / (1 + draws)),
            "ami_clip_null_mean": float(clip_level.mean()), "ami_clip_null_std": float(clip_level.std()),
            "ami_clip_null_p": float((1 + (clip_level >= observed).sum()) / (1 + draws))}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="multiview data ambient_targets", description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
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
    if not args.folder.is_dir():
        raise UserError(f"{args.folder}: expected a folder of videos")
    texture = SoundTexture(args.sample_rate)
    stats, owners, files = folder_statistics(args.folder, texture, args.window, args.hop, device=args.device)
    targets = AmbientTargets.fit(stats.to(args.device), k=args.k, mode=args.mode, n_bits=args.n_bits,
                                 n_components=args.n_components, seed=args.seed)
    targets.save(args.out)
    print(f"{len(files)} clips, {len(stats)} windows of {args.window:g} s, {stats.shape[1]} statistics; "
          f"{args.mode} targets ({targets.n_classes}) saved to {args.out}")
    if args.report:
        labels_path = args.folder / "labels.tsv"
        if not labels_path.exists():
            raise UserError(f"--report: {labels_path} not found; agreement needs labels (file, label)")
        names = {k: e["label"] for k, e in read_tsv(labels_path)[0].items() if "label" in e}
        rel = [os.path.normpath(f) for f in files]
        has = np.array([r in names for r in rel])
        vocab = sorted({names[r] for r in rel if r in names})
        clip_label = np.array([vocab.index(names[r]) if r in names else -1 for r in rel])
        keep = has[owners.numpy()]
        assigned = targets.assign(stats).numpy()
        if targets.mode == "binary":
            assigned = assigned.astype(np.int64) @ (1 << np.arange(assigned.shape[1]))
            assigned = np.unique(assigned, return_inverse=True)[1]
        result = {"clips": len(files), "windows": int(keep.sum()), "labels": len(vocab),
                  "k": int(assigned.max()) + 1, "mode": targets.mode, "window_s": args.window}
        result.update(cluster_label_agreement(assigned[keep], clip_label[owners.numpy()][keep],
                                              owners.numpy()[keep], seed=args.seed))
        write_json(args.report, result)
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    return 0
