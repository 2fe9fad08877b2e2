"""The baselines that give a transfer score its meaning.

- **random init**: the same architecture, freshly initialised with BatchNorm statistics from the data
  (:func:`embed.random_init`).
- **hand-designed** representations, as modules with ``features(x) -> {"pool": [B, D]}``:
  raw pixels (area-downsampled); an oriented multi-scale Gabor filter bank, the energy of
  quadrature pairs (Daugman 1985; the "GIST" pooling of Oliva & Torralba 2001) averaged over a
  coarse grid, with the grid's mean colour; and MFCCs for audio (Davis & Mermelstein 1980),
  averaged over time segments, with their standard deviation.
  Text has its own (:mod:`multiview.eval.core.text_baselines`): hashed bags of words and of
  character trigrams, and PPMI-SVD vectors of the word2vec run's corpus.
- **supervised**: the same architecture trained from scratch with labels on the same training
  split (cross-entropy, :func:`multiview.eval.core.training.train_classifier`; for a text encoder the
  word table itself is trained, as fastText's classifier does, Joulin et al. 2017); cached in
  ``$MULTIVIEW_HOME/cache/supervised`` by architecture, schedule and the data's fingerprint
  (every file's path, size and mtime, or the run's resolved checkpoint: :func:`data_fingerprint`).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio

from multiview.core import cache as cache_store
from multiview.core.io import load_tensors
from multiview.eval.core.embed import random_like
from multiview.eval.core.training import AUGMENT_KEY, new_head, train_classifier


class RawPixels(nn.Module):
    """Images area-downsampled to ``size x size`` and flattened."""

    def __init__(self, size: int = 16):
        super().__init__()
        self.size = size

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"pool": F.adaptive_avg_pool2d(x.float(), self.size).flatten(1)}


def gabor_kernels(sigmas: tuple[float, ...], n_orientations: int) -> torch.Tensor:
    """``[2 * len(sigmas) * n_orientations, 1, K, K]``: even (cos) then odd (sin) Gabor filters,
    wavelength ``2 sigma``, each zero-mean and unit-L2, zero-padded to the largest size."""
    size = 2 * math.ceil(3 * max(sigmas)) + 1
    r = torch.arange(size, dtype=torch.float64) - size // 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    even, odd = [], []
    for s in sigmas:
        for k in range(n_orientations):
            theta = math.pi * k / n_orientations
            u = xx * math.cos(theta) + yy * math.sin(theta)
            env = torch.exp(-(xx ** 2 + yy ** 2) / (2 * s ** 2))
            for out, wave in ((even, torch.cos(math.pi * u / s)), (odd, torch.sin(math.pi * u / s))):
                support = env > 1e-3
                g = env * wave
                g = (g - g[support].mean()) * support
                out.append(g / g.norm())
    return torch.stack(even + odd).unsqueeze(1).float()


class GaborBank(nn.Module):
    """Gabor energy at ``len(sigmas)`` scales x ``n_orientations`` orientations, pooled over a
    ``grid x grid`` layout, plus the mean colour of each grid cell."""

    def __init__(self, sigmas: tuple[float, ...] = (1.0, 2.0, 4.0), n_orientations: int = 8, grid: int = 4):
        super().__init__()
        self.register_buffer("kernels", gabor_kernels(sigmas, n_orientations))
        self.grid = grid

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = x.float()
        gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
        resp = F.conv2d(gray, self.kernels, padding=self.kernels.shape[-1] // 2)
        half = resp.shape[1] // 2
        energy = (resp[:, :half] ** 2 + resp[:, half:] ** 2).sqrt()
        pooled = F.adaptive_avg_pool2d(energy, self.grid).flatten(1)
        colour = F.adaptive_avg_pool2d(x, self.grid).flatten(1)
        return {"gabor": energy, "pool": torch.cat([pooled, colour], 1)}


class MFCCFeatures(nn.Module):
    """MFCCs (25 ms windows, 10 ms hop) averaged over ``segments`` equal time spans, plus their
    standard deviation over the whole clip: ``n_mfcc * (segments + 1)`` numbers."""

    def __init__(self, sample_rate: int = 16000, n_mfcc: int = 20, n_mels: int = 40, segments: int = 4):
        super().__init__()
        n_fft = int(0.025 * sample_rate) if sample_rate >= 8000 else 256
        self.mfcc = torchaudio.transforms.MFCC(sample_rate, n_mfcc, melkwargs={
            "n_fft": n_fft, "hop_length": int(0.010 * sample_rate), "n_mels": n_mels, "f_min": 20.0})
        self.segments = segments

    def features(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        m = self.mfcc(wave.float())  # [B, n_mfcc, T]
        pooled = F.adaptive_avg_pool1d(m, self.segments).flatten(1)
        return {"mfcc": m, "pool": torch.cat([pooled, m.std(-1)], 1)}


def hand_designed(modality: str, sample_rate: int = 16000) -> dict[str, nn.Module]:
    if modality == "audio":
        return {"mfcc": MFCCFeatures(sample_rate)}
    return {"raw_pixels": RawPixels(), "gabor": GaborBank()}


def arch_key(encoder: nn.Module) -> str:
    shapes = ";".join(f"{k}:{tuple(v.shape)}" for k, v in encoder.state_dict().items())
    vocab = getattr(encoder, "vocab", None)
    if vocab:
        shapes += "|" + hashlib.sha1("\n".join(vocab).encode()).hexdigest()
    return f"{type(encoder).__module__}.{type(encoder).__name__}|{shapes}"


def data_fingerprint(data: str, checkpoint: str = "") -> str:
    """What ``--data`` resolves to, by content: every file's path, size and mtime under a path,
    the run's checkpoint file for ``run``, the name itself for bundled data (words, polarity)."""
    from multiview.eval.core.datasets import SHARED, shared_data_dir

    if data == "run":
        from multiview.eval.core.checkpoint import find_run

        return cache_store.file_key(find_run(Path(checkpoint).expanduser().resolve())[1])
    path = shared_data_dir() / SHARED[data][0] / SHARED[data][1] if data in SHARED else Path(data).expanduser()
    if path.is_file():
        return cache_store.file_key(path)
    if path.is_dir():
        return cache_store.tree_key(sorted(str(p) for p in path.rglob("*") if p.is_file()))
    return data


def supervised(encoder: nn.Module, train, n_classes: int, modality: str, data_key: str,
               epochs: int = 15, lr: float = 2e-3, seed: int = 0) -> nn.Module:
    """``encoder``'s architecture trained from scratch on ``train`` with labels (cached; ``data_key``
    should include :func:`data_fingerprint`)."""
    fresh = random_like(encoder, seed)
    for p in fresh.parameters():
        p.requires_grad_(True)
    key = cache_store.digest(arch_key(encoder), data_key, len(train), n_classes, epochs, lr, seed, AUGMENT_KEY)
    path = cache_store.folder("supervised") / f"{key}.pt"
    with cache_store.locked(path):  # two evaluations of the same data train it once
        if path.is_file():
            try:
                fresh.load_state_dict(load_tensors(path))
                cache_store.touch(path)
                return fresh.eval()
            except Exception:  # torn or foreign: train again and replace it
                pass
        head = new_head(fresh.out_dim, n_classes, seed)
        train_classifier(fresh, head, train, modality, epochs=epochs, lr=lr, seed=seed)
        state = fresh.state_dict()
        cache_store.write(path, lambda tmp: torch.save(state, tmp))
    return fresh.eval()
