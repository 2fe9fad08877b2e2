"""Jigsaw puzzles (Noroozi & Favaro, ECCV 2016, "Unsupervised learning of visual representations
by solving jigsaw puzzles").

An image is cut into a 3x3 grid of tiles, the tiles are shuffled by one permutation of a fixed
set, and the network names the permutation (cross-entropy over the set's indices). The set is
chosen greedily for large Hamming distance (Sec. 3.3, Algorithm 1): start from one random
permutation of the 9! and repeatedly add the candidate farthest from those chosen. Algorithm 1
scores a candidate by its summed distance to the chosen set; we score by the minimum distance
first and break ties by the summed distance, which keeps the set's minimum pairwise distance (the
ambiguity the paper measures in Table 3) as high as the greedy search can.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import torch
import torch.nn.functional as F


@functools.cache
def _all_permutations(n_tiles: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(n_tiles))), dtype=np.int8)


def _distances(columns: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Hamming distance of ``perm`` to every candidate (``columns``: candidates by position)."""
    d = np.zeros(columns.shape[1], dtype=np.int64)
    for position, tile in enumerate(perm):
        d += columns[position] != tile
    return d


def hamming_permutations(n: int = 100, n_tiles: int = 9, seed: int = 0) -> torch.Tensor:
    """``[n, n_tiles]`` permutations, chosen greedily for maximal Hamming distance (see above);
    the same for the same ``(n, n_tiles, seed)``."""
    candidates = _all_permutations(n_tiles)
    if not 1 <= n <= len(candidates):
        raise ValueError(f"jigsaw: expected 1 to {len(candidates)} permutations of {n_tiles} tiles, got {n}")
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(len(candidates)))]
    columns = np.ascontiguousarray(candidates.T)
    nearest = np.full(len(candidates), n_tiles + 1, dtype=np.int64)
    total = np.zeros(len(candidates), dtype=np.int64)
    for _ in range(n - 1):
        d = _distances(columns, candidates[chosen[-1]])
        nearest = np.minimum(nearest, d)
        total += d
        score = nearest * (n_tiles * n + 1) + total  # min distance first, sum as the tie-break
        score[chosen] = -1
        chosen.append(int(score.argmax()))
    return torch.from_numpy(candidates[chosen].astype(np.int64))


def min_hamming(perms: torch.Tensor) -> int:
    """The smallest Hamming distance between two different rows of ``perms``."""
    d = (perms[:, None, :] != perms[None, :, :]).sum(-1)
    d.fill_diagonal_(perms.shape[1] + 1)
    return int(d.min())


def shuffle_tiles(tiles: torch.Tensor, perms: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``[B, T, ...]`` tiles reordered so that position ``j`` of sample ``b`` holds tile
    ``perms[index[b], j]``."""
    order = perms[index]  # [B, T]
    shape = order.shape + (1,) * (tiles.ndim - 2)
    return tiles.gather(1, order.view(shape).expand_as(tiles))


def normalize_tiles(tiles: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each tile (``[..., C, H, W]``) to zero mean and unit std per channel, so that no tile gives
    its place away by low-level statistics (Sec. 3.2)."""
    mean = tiles.mean((-2, -1), keepdim=True)
    std = tiles.std((-2, -1), keepdim=True)
    return (tiles - mean) / (std + eps)


def jigsaw_loss(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the permutation indices."""
    return F.cross_entropy(logits, index)
