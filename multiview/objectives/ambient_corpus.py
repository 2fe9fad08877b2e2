"""Ambient-sound targets fitted on a video folder.

The command is ``multiview data ambient_targets`` (:mod:`multiview.cli.data.ambient_targets`).

Every video with sound under a folder is cut into windows of ``window`` seconds (3.75 s in
Owens et al. 2016) every ``hop`` seconds; each window's sound-texture statistics
(:mod:`multiview.objectives.sound_texture`) are computed in batches, and PCA + k-means (or the
sign-of-PCA binary code) is fitted on them (:mod:`multiview.objectives.ambient_targets`). The
fitted targets are saved as tensors; the method loads them with ``targets_path``.

When ``labels.tsv`` (file, label) sits beside the videos, :func:`agreement_report` scores how well
the clusters group windows of like sound: adjusted mutual information between cluster and label,
against two nulls: random assignment with the same cluster sizes, and a null that keeps every
clip's windows together but sends whole clips to random clusters (which is what a clustering that
only recognised individual clips would score).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from multiview.core.errors import UserError
from multiview.data.video import decode
from multiview.data.video.annotations import read_tsv
from multiview.data.video.index import VIDEO_EXTENSIONS
from multiview.objectives.ambient_targets import AmbientTargets
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


def fit_folder(folder: Path, mode: str = "clusters", k: int = 30, n_bits: int = 30, n_components: int = 32,
               window: float = 3.75, hop: float = 1.875, sample_rate: int = 16000, device: str = "cpu",
               seed: int = 0) -> tuple[AmbientTargets, torch.Tensor, torch.Tensor, list[str]]:
    """Targets fitted on every window of every video with sound under ``folder``, with the
    windows' statistics, their clip indices and the clips' paths (:func:`folder_statistics`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: expected a folder of videos")
    texture = SoundTexture(sample_rate)
    stats, owners, files = folder_statistics(folder, texture, window, hop, device=device)
    targets = AmbientTargets.fit(stats.to(device), k=k, mode=mode, n_bits=n_bits,
                                 n_components=n_components, seed=seed)
    return targets, stats, owners, files


def agreement_report(folder: Path, targets: AmbientTargets, stats: torch.Tensor, owners: torch.Tensor,
                     files: list[str], window: float, seed: int = 0) -> dict:
    """How well the targets group windows of like sound, scored against ``folder/labels.tsv``
    (:func:`cluster_label_agreement`)."""
    labels_path = Path(folder) / "labels.tsv"
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
              "k": int(assigned.max()) + 1, "mode": targets.mode, "window_s": window}
    result.update(cluster_label_agreement(assigned[keep], clip_label[owners.numpy()][keep],
                                          owners.numpy()[keep], seed=seed))
    return result
