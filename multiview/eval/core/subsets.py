"""Subsets of labelled datasets that every evaluation split shares: renamed inputs, decoded once,
class-balanced limits and stratified validation splits."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset


class Renamed(Dataset):
    """Expose ``key`` of another dataset's samples as ``"input"``."""

    def __init__(self, base: Dataset, key: str):
        self.base, self.key = base, key

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        s = self.base[i]
        return {"input": s[self.key], "label": int(s["label"])}


class InMemory(Dataset):
    """Every sample of ``base`` decoded once (video decoding is too slow to repeat per epoch)."""

    def __init__(self, base: Dataset):
        self.items = [base[i] for i in range(len(base))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def balanced(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices of a class-balanced subset of at most ``limit`` items (round-robin over classes)."""
    labels = np.asarray(labels)
    if not limit or limit >= len(labels):
        return np.arange(len(labels))
    order = np.random.default_rng(seed).permutation(len(labels))
    rank = np.empty(len(labels), np.int64)
    for c in np.unique(labels):
        idx = order[labels[order] == c]
        rank[idx] = np.arange(len(idx))
    return np.sort(np.lexsort((order.argsort(), rank))[:limit])


def split_off(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified ``(train, val)`` index split with ``fraction`` of each class in val (at least one
    and never all of a class of two or more). Where every class has one item (a stratified
    held-out set leaves a small folder's training side so), ``fraction`` of the items (at least
    one) go to val: with two or more items, neither side is empty."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed + 1)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        val += idx[:k].tolist()
        train += idx[k:].tolist()
    if not val and len(labels) > 1:
        order = rng.permutation(len(labels))
        k = min(len(labels) - 1, max(1, int(round(fraction * len(labels)))))
        val, train = order[:k].tolist(), order[k:].tolist()
    return np.sort(np.array(train, np.int64)), np.sort(np.array(val, np.int64))
