"""word2vec's CPU update: plain sequential SGD over the windows of a part, compiled with numba.

Skip-gram (Mikolov et al. 2013b, eq. 4; see :mod:`multiview.objectives.skipgram`) and CBOW with
the mean of the contexts (Mikolov et al. 2013a; see :mod:`multiview.objectives.cbow`) in the
order word2vec.c and gensim use: window by window, every step seeing the previous one's rows,
with K negatives per (context, center) pair in skip-gram and per window in CBOW, as gensim
(sharing one window's negatives across its contexts, as the batched update does, cost 0.04 of
WS353 Spearman on gensim's Wikipedia extract when the steps are sequential).

Why a compiled loop on CPU: the batched tensor update (``sgns_update``, ``cbow_update``) pays a
dispatch per row in ``index_add_`` and per window in ``bmm`` (both measured at 0.1-1 us on CPU,
more than the 100-float row itself), which costs most on short windows, i.e. short lines and
CBOW. Everything around it (subsampling, windows, negatives) stays vectorized over the part.
The functions release the GIL, so the worker threads train at once (Hogwild, Recht et al. 2011).
"""

from __future__ import annotations

import os

import numpy as np

from multiview.paths import cache_dir

os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir("numba")))

import numba  # after its cache folder is set: never inside the package

LOSS_WINDOWS = 1024  # the reported loss covers this many first windows of a part


@numba.njit(nogil=True, fastmath=True, cache=True)
def _log_sigmoid(x):
    if x < 0:
        return x - np.log1p(np.exp(x))
    return -np.log1p(np.exp(-x))


@numba.njit(nogil=True, fastmath=True, cache=True)
def _predict(hidden, syn1, target, label, alpha, grad, measure):
    """One output word: ``syn1[target] += g * hidden``, ``grad += g * syn1[target]`` (old row),
    ``g = alpha * (label - s(hidden . u))``; returns the term's loss when ``measure``."""
    dim = hidden.shape[0]
    score = np.float32(0.0)
    for d in range(dim):
        score += hidden[d] * syn1[target, d]
    g = np.float32(alpha * (label - 1.0 / (1.0 + np.exp(-score))))
    for d in range(dim):
        grad[d] += g * syn1[target, d]
        syn1[target, d] += g * hidden[d]
    if measure:
        return -_log_sigmoid(score if label > 0 else -score)
    return 0.0


@numba.njit(nogil=True, fastmath=True, cache=True)
def train_windows(syn0, syn1, ids, lo, hi, negatives, alpha, skipgram):
    """SGD over the windows of one part, in place on ``syn0``/``syn1`` (float32 [V, D]).

    Position i predicts ``ids[i]`` from the positions ``lo[i]..hi[i]`` except i (its window,
    already clipped to its line). ``negatives [m, S, K]``: skip-gram's s-th context of window i
    uses ``negatives[i, s]`` (S >= the largest window's context count), CBOW's window uses
    ``negatives[i, 0]``; a draw equal to the center is skipped. Returns (loss per prediction over the first ``LOSS_WINDOWS`` windows,
    number of (context, center) pairs).
    """
    dim = syn0.shape[1]
    k = negatives.shape[2]
    grad = np.empty(dim, dtype=np.float32)
    hidden = np.empty(dim, dtype=np.float32)
    loss, predictions, pairs = 0.0, 0, 0
    for i in range(ids.shape[0]):
        count = hi[i] - lo[i]
        if count <= 0:
            continue
        pairs += count
        center = ids[i]
        measure = i < LOSS_WINDOWS
        if skipgram:
            slot = 0
            for j in range(lo[i], hi[i] + 1):
                if j == i:
                    continue
                row = ids[j]
                grad[:] = 0.0
                hidden[:] = syn0[row]
                loss += _predict(hidden, syn1, center, 1.0, alpha, grad, measure)
                for n in range(k):
                    if negatives[i, slot, n] != center:
                        loss += _predict(hidden, syn1, negatives[i, slot, n], 0.0, alpha, grad, measure)
                slot += 1
                for d in range(dim):
                    syn0[row, d] += grad[d]
                predictions += measure
        else:
            hidden[:] = 0.0
            for j in range(lo[i], hi[i] + 1):
                if j != i:
                    for d in range(dim):
                        hidden[d] += syn0[ids[j], d]
            hidden /= count
            grad[:] = 0.0
            loss += _predict(hidden, syn1, center, 1.0, alpha, grad, measure)
            for n in range(k):
                if negatives[i, 0, n] != center:
                    loss += _predict(hidden, syn1, negatives[i, 0, n], 0.0, alpha, grad, measure)
            for j in range(lo[i], hi[i] + 1):
                if j != i:
                    for d in range(dim):
                        syn0[ids[j], d] += grad[d]
            predictions += measure
    return loss / max(predictions, 1), pairs


def warm_up() -> None:
    """Compile (or load from the cache) before training, so that the first part is not timed
    with the compiler."""
    rows = np.zeros((1, 1), dtype=np.float32)
    none = np.zeros(0, dtype=np.int64)
    for skipgram in (True, False):
        train_windows(rows, rows, none, none, none, np.zeros((0, 1, 1), dtype=np.int64), 0.0, skipgram)
