"""Turning sound-texture statistics into training targets (Owens et al. 2016, Sec. 3.2).

Each statistic is standardised over the corpus, projected on its leading principal components,
and then either

- **clustered** (``mode="clusters"``): k-means in the PCA space, k=30 in the paper; a clip's target
  is the index of its nearest centre and the network is trained with cross-entropy; or
- **binarised** (``mode="binary"``): the target is the sign of each of the first ``n_bits``
  projections, one logistic loss per bit (the paper's "binary coding" alternative).

k-means is mini-batch k-means (Sculley 2010) seeded with k-means++ (Arthur & Vassilvitskii 2007)
and finished with a few full Lloyd passes, in torch on whatever device the statistics are on, so
fitting scales to corpora that do not fit a single distance matrix. The fitted object is a dict of
tensors, saved and loaded with :func:`multiview.core.io.save_tensors` / ``load_tensors``.
"""

from __future__ import annotations

import os

import torch

from multiview.core.errors import UserError
from multiview.core.io import load_tensors, save_tensors

MODES = ("clusters", "binary")


def _sq_dist(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return (x.pow(2).sum(1, keepdim=True) - 2 * x @ c.T + c.pow(2).sum(1)[None]).clamp_min(0)


def _assign(x: torch.Tensor, c: torch.Tensor, chunk: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre and its squared distance for each row, in chunks."""
    labels, dists = [], []
    for xs in x.split(chunk):
        d, i = _sq_dist(xs, c).min(1)
        labels.append(i)
        dists.append(d)
    return torch.cat(labels), torch.cat(dists)


def _sums(x: torch.Tensor, labels: torch.Tensor, k: int, chunk: int = 65536) -> torch.Tensor:
    """Per-centre sums of the rows of ``x`` (one-hot matmul: much faster than index_add_ on CPU)."""
    out = x.new_zeros(k, x.shape[1])
    for xs, ls in zip(x.split(chunk), labels.split(chunk)):
        out += torch.nn.functional.one_hot(ls, k).to(x.dtype).T @ xs
    return out


def kmeans_plus_plus(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: each new centre drawn with probability proportional to D(x)^2."""
    idx = torch.randint(x.shape[0], (1,), generator=gen, device=gen.device)
    centres = [x[idx]]
    d = _sq_dist(x, centres[0])[:, 0]
    for _ in range(1, k):
        p = d / d.sum() if float(d.sum()) > 0 else torch.full_like(d, 1.0 / d.numel())
        idx = torch.multinomial(p, 1, generator=gen)
        centres.append(x[idx])
        d = torch.minimum(d, _sq_dist(x, centres[-1])[:, 0])
    return torch.cat(centres)


def minibatch_kmeans(x: torch.Tensor, k: int, batch_size: int = 4096, steps: int = 200,
                     lloyd_steps: int = 10, seed: int = 0) -> torch.Tensor:
    """Centres ``[k, d]`` of ``x [N, d]``: mini-batch k-means (Sculley 2010, Alg. 1), then Lloyd passes.

    A centre's step size is ``1 / (number of points it has absorbed)``; a centre left empty in a
    Lloyd pass is moved to the point farthest from its current centre.
    """
    gen = torch.Generator(device=x.device).manual_seed(seed)
    seed_rows = x[torch.randperm(x.shape[0], generator=gen, device=x.device)[: max(k * 50, batch_size)]]
    centres = kmeans_plus_plus(seed_rows, k, gen).clone()
    counts = torch.zeros(k, device=x.device, dtype=x.dtype)
    if x.shape[0] > batch_size:
        for _ in range(steps):
            batch = x[torch.randint(x.shape[0], (batch_size,), generator=gen, device=x.device)]
            labels, _ = _assign(batch, centres)
            counts += torch.bincount(labels, minlength=k).to(x.dtype)
            sums = _sums(batch, labels, k)
            n_new = torch.bincount(labels, minlength=k).to(x.dtype)[:, None]
            rate = n_new / counts[:, None].clamp_min(1)
            centres += rate * (sums / n_new.clamp_min(1) - centres) * (n_new > 0)
    for _ in range(lloyd_steps):
        labels, dists = _assign(x, centres)
        n_in = torch.bincount(labels, minlength=k).to(x.dtype)
        sums = _sums(x, labels, k)
        new = torch.where(n_in[:, None] > 0, sums / n_in.clamp_min(1)[:, None], centres)
        for empty in torch.nonzero(n_in == 0).flatten().tolist():
            far = int(dists.argmax())
            new[empty] = x[far]
            dists[far] = 0
        if torch.allclose(new, centres):
            break
        centres = new
    return centres


class AmbientTargets:
    """PCA + k-means (or sign-of-PCA bits) over sound-texture statistics; see the module docstring."""

    def __init__(self, state: dict[str, torch.Tensor]):
        self.state = state

    @property
    def mode(self) -> str:
        return "clusters" if "centres" in self.state else "binary"

    @property
    def n_classes(self) -> int:
        """Number of clusters, or number of bits."""
        return int(self.state["centres"].shape[0]) if self.mode == "clusters" else int(self.state["n_bits"])

    @classmethod
    def fit(cls, stats: torch.Tensor, k: int = 30, mode: str = "clusters", n_components: int = 32,
            n_bits: int = 30, seed: int = 0, steps: int = 200, batch_size: int = 4096) -> AmbientTargets:
        if mode not in MODES:
            raise UserError(f"targets mode: expected one of {MODES}, got {mode!r}")
        if stats.dim() != 2 or not torch.isfinite(stats).all():
            raise UserError(f"statistics: expected a finite [N, D] tensor, got shape {tuple(stats.shape)}")
        n, d = stats.shape
        if mode == "clusters" and not 2 <= k <= n:
            raise UserError(f"k: expected 2 <= k <= number of clips ({n}), got {k}")
        x = stats.to(torch.float64 if stats.device.type == "cpu" else torch.float32)
        mean = x.mean(0)
        scale = x.std(0).clamp_min(1e-6 * float(x.std(0).max()) + 1e-12)
        z = (x - mean) / scale
        q = min(n_components, d, n - 1) if mode == "clusters" else min(max(n_bits, 1), d, n - 1)
        if mode == "binary" and n_bits > q:
            raise UserError(f"n_bits: at most {q} for {n} clips of {d} statistics, got {n_bits}")
        variance, vecs = torch.linalg.eigh(z.T @ z / max(n - 1, 1))  # [D, D]: scales with N
        variance, vecs = variance.flip(0).clamp_min(0), vecs.flip(1)
        components = vecs[:, :q].T
        # fix each component's sign so the largest loading is positive (a deterministic basis)
        flip = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
        components = components * flip
        state = {"mean": mean, "scale": scale, "components": components,
                 "explained_variance_ratio": (variance / variance.sum())[:q]}
        if mode == "clusters":
            proj = z @ components.T
            state["centres"] = minibatch_kmeans(proj, k, batch_size=batch_size, steps=steps, seed=seed)
        else:
            state["n_bits"] = torch.tensor(n_bits)
        return cls({key: (v.float() if v.is_floating_point() else v).cpu() for key, v in state.items()})

    def project(self, stats: torch.Tensor) -> torch.Tensor:
        s = {key: v.to(stats.device) for key, v in self.state.items()}
        if stats.shape[-1] != s["mean"].numel():
            raise UserError(f"statistics: expected {s['mean'].numel()} values per clip, got {stats.shape[-1]}")
        return ((stats.float() - s["mean"]) / s["scale"]) @ s["components"].T

    def assign(self, stats: torch.Tensor) -> torch.Tensor:
        """Cluster index ``[N]`` (clusters mode) or bits ``[N, n_bits]`` in {0, 1} as float (binary mode)."""
        proj = self.project(stats)
        if self.mode == "binary":
            return (proj[:, : self.n_classes] > 0).float()
        return _assign(proj, self.state["centres"].to(proj.device))[0]

    def inertia(self, stats: torch.Tensor) -> float:
        """Mean squared distance to the nearest centre, in the PCA space."""
        return float(_assign(self.project(stats), self.state["centres"].to(stats.device))[1].mean())

    def save(self, path: str | os.PathLike) -> None:
        save_tensors(path, self.state)

    @classmethod
    def load(cls, path: str | os.PathLike) -> AmbientTargets:
        try:
            state = load_tensors(path)
        except FileNotFoundError:
            raise UserError(f"{path}: no such targets file") from None
        if not isinstance(state, dict) or not {"mean", "scale", "components"} <= set(state):
            raise UserError(f"{path}: not an ambient-targets file (expected mean, scale, components tensors)")
        return cls(state)
