"""95% confidence intervals by the bootstrap, and paired comparisons of two evaluations.

Percentile bootstrap (Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13): the
figure is recomputed on ``B`` resamples of the queries (or test samples) drawn with replacement,
and the 2.5th and 97.5th percentiles of the ``B`` values bound it. The resamples are one seeded
``[B, n]`` index matrix, so 1000 of them cost one vectorised statistic along an axis.

Two evaluations scored on the same queries are compared pairwise: the difference ``B - A`` of a
figure gets the interval of the *paired* bootstrap (one index matrix for both runs, so what the
queries have in common cancels), and a two-sided p-value from a paired permutation test (Fisher
1935; Good 2005, "Permutation, Parametric and Bootstrap Tests of Hypotheses", sec. 3.6): under
the null hypothesis that the two runs are exchangeable on every query, swapping their results on
any subset of queries is as likely as what was seen, so ``p = (1 + #{|d*| >= |d|}) / (1 + B)``
over ``B`` random swaps.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

LEVEL = 0.95
CHUNK = 4_000_000  # resampled values held at once: a 1000 x 4000 matrix


def statistic(name: str, values: np.ndarray) -> np.ndarray:
    """The figure ``name`` of per-query ``values`` along the last axis: the conventional median
    for ``median_rank``, otherwise the mean (NaN entries, queries without a figure, left out)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample with no labelled query: NaN
        if name.endswith("median_rank"):
            return np.median(values, axis=-1)
        return np.nanmean(values, axis=-1) if np.isnan(values).any() else values.mean(axis=-1)


def resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``[n_boot, n]`` indices drawn with replacement from ``0 .. n-1`` (seeded)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _chunks(n: int, n_boot: int):
    step = max(1, CHUNK // max(n, 1))
    return [(s, min(s + step, n_boot)) for s in range(0, n_boot, step)]


def bootstrap_values(name: str, values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """The figure ``name`` on each of ``n_boot`` resamples of ``values``."""
    values = np.asarray(values, dtype=np.float64)
    idx = resamples(len(values), n_boot, seed)
    return np.concatenate([statistic(name, values[idx[a:b]]) for a, b in _chunks(len(values), n_boot)])


def percentiles(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def interval(name: str, values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap 95% interval of the figure ``name`` over the queries ``values``."""
    return percentiles(bootstrap_values(name, values, n_boot, seed))


def intervals(per_query: dict[str, np.ndarray], prefix: str, n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    """``{prefix + name + "_lo" | "_hi"}`` for every figure of ``per_query`` (``{name: values}``)."""
    out = {}
    for name, values in per_query.items():
        out[f"{prefix}{name}_lo"], out[f"{prefix}{name}_hi"] = interval(name, values, n_boot, seed)
    return out


def accuracy_interval(top1: float, n: int, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Bootstrap 95% interval of an accuracy over ``n`` test samples: the resampled mean of the
    per-sample hits, which depends only on how many were right (``round(top1 * n)``)."""
    if n < 1 or not math.isfinite(top1):
        return math.nan, math.nan
    right = int(round(top1 * n))
    return interval("top1", np.r_[np.ones(right), np.zeros(n - right)], n_boot, seed)


def paired_difference(name: str, a: np.ndarray, b: np.ndarray, n_boot: int = 1000,
                      seed: int = 0) -> tuple[float, float, float, float]:
    """``(d, lo, hi, p)`` for the figure ``name`` of two runs on the same queries (``a[i]`` and
    ``b[i]`` belong to query ``i``): ``d = stat(b) - stat(a)``, its paired-bootstrap 95% interval
    and the two-sided p-value of the paired permutation test."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two vectors of one length, got {a.shape} and {b.shape}")
    n = len(a)
    d = float(statistic(name, b) - statistic(name, a))
    idx = resamples(n, n_boot, seed)
    rng = np.random.default_rng([seed, 1])
    boot, perm = [], []
    for s, e in _chunks(n, n_boot):
        boot.append(statistic(name, b[idx[s:e]]) - statistic(name, a[idx[s:e]]))
        swap = rng.random((e - s, n)) < 0.5
        perm.append(statistic(name, np.where(swap, a, b)) - statistic(name, np.where(swap, b, a)))
    lo, hi = percentiles(np.concatenate(boot))
    perm = np.concatenate(perm)
    perm = perm[np.isfinite(perm)]
    p = float((1 + np.sum(np.abs(perm) >= abs(d) - 1e-12)) / (1 + len(perm))) if math.isfinite(d) else math.nan
    return d, lo, hi, p


def format_interval(value: float, lo: float, hi: float) -> str:
    """``0.594 [0.47, 0.71]`` (a rank: ``12.5 [9.0, 17.5]``)."""
    if not all(math.isfinite(x) for x in (value, lo, hi)):
        return f"{value:.4f}"
    if max(abs(value), abs(lo), abs(hi)) >= 2:
        return f"{value:.1f} [{lo:.1f}, {hi:.1f}]"
    return f"{value:.3f} [{lo:.2f}, {hi:.2f}]"


def with_accuracy_intervals(figures: dict[str, float], n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    """``figures`` of :func:`~multiview.eval.core.frozen.frozen_figures` with a bootstrap 95%
    interval over the test samples (``<kind>/n_test``) beside every representation's test top-1:
    ``probe/top1_lo``, ``probe/random_init/top1_hi``, ... (chance and majority have none)."""
    out = dict(figures)
    for key, value in figures.items():
        kind, *rest = key.split("/")
        if rest[-1:] != ["top1"] or rest[:1] in (["chance"], ["majority"]) or f"{kind}/n_test" not in figures:
            continue
        out[f"{key}_lo"], out[f"{key}_hi"] = accuracy_interval(value, int(figures[f"{kind}/n_test"]), n_boot, seed)
    return out
