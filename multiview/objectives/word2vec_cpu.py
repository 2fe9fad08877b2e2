"""word2vec's CPU update: plain sequential SGD over the windows of a part, compiled with numba.

Skip-gram (Mikolov et al. 2013b, eq. 4; see :mod:`multiview.objectives.skipgram`) and CBOW with
the mean of the contexts (Mikolov et al. 2013a; see :mod:`multiview.objectives.cbow`), window by
window as word2vec.c and gensim, every step seeing the previous one's rows (a part's windows are
visited in ``STREAMS`` interleaved segments, see ``visiting_order``), with K negatives per
(context, center) pair in skip-gram and per window in CBOW, as gensim (sharing one window's
negatives across its contexts, as the batched update does, cost 0.04 of WS353 Spearman on
gensim's Wikipedia extract when the steps are sequential).

Why a compiled loop on CPU: the batched tensor update (``sgns_update``, ``cbow_update``) pays a
dispatch per row in ``index_add_`` and per window in ``bmm`` (both measured at 0.1-1 us on CPU,
more than the 100-float row itself), which costs most on short windows, i.e. short lines and
CBOW. Subsampling and windows stay vectorized over the part; the negatives are drawn inside the
loop (word2vec.c's generator, the alias table), only for the pairs that exist.
The loop waits on memory, not arithmetic: each prediction reads a random row of ``syn1``. So a
window's rows (its contexts', its center's and its negatives', drawn first in the same order) are
prefetched before its updates, and their cache misses overlap instead of following each other.
Results are the same bit for bit; the median speed ratios against gensim in
``benchmarks/word2vec_matrix.py`` went from 1.05-1.70 to 1.42-1.96 (3 seeds, 6 cells).
The functions release the GIL, so the worker threads train at once (Hogwild, Recht et al. 2011).
"""

from __future__ import annotations

import os

import numpy as np

from multiview.core.paths import cache_dir

os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir("numba")))

import numba  # after its cache folder is set: never inside the package
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

LOSS_WINDOWS = 1024  # the reported loss covers this many first windows of a part
# Segments of a part that a worker visits in turn. On long lines (gensim's Wikipedia extract, one
# article per line), visiting 4 stretches of text at once instead of 1 raised WS353 Spearman from
# 0.226 to 0.241 over 10 and 5 seeds at 2 workers (gensim: 0.243); with 4 worker threads instead,
# the sequential order reached 0.244. Consecutive windows of one article share its topic words,
# and interleaving spreads their updates, as more Hogwild threads do.
STREAMS = 4


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


@intrinsic
def _prefetch(typingctx, rows, row, column):
    """LLVM's prefetch of ``rows[row, column]`` for writing, kept in all cache levels."""

    def codegen(context, builder, signature, args):
        kind = signature.args[0]
        array = context.make_array(kind)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, kind, array, args[1:], wraparound=False)
        bytes_ = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [bytes_, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        flags = [ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)]  # write, keep, data
        builder.call(function, [builder.bitcast(pointer, bytes_), *flags])
        return context.get_dummy_value()

    return numba.types.void(rows, row, column), codegen


@numba.njit(nogil=True, cache=True)
def _prefetch_row(rows, row):
    for column in range(0, rows.shape[1], 16):  # one 64-byte cache line of float32 each
        _prefetch(rows, row, column)


_MULTIPLIER = np.uint64(25214903917)  # word2vec.c's linear congruential generator
_INCREMENT = np.uint64(11)
_SHIFT = np.uint64(16)
_UNIT = 1.0 / float(1 << 48)


@numba.njit(nogil=True, cache=True)
def _step(state):
    return state * _MULTIPLIER + _INCREMENT  # wraps modulo 2**64, as word2vec.c's unsigned long long


@numba.njit(nogil=True, cache=True)
def _draw(state, accept, alias):
    """One draw from the alias table (Walker 1977): a column from the state's top 48 bits, then
    the column or its alias from the next state's. Returns (word id, new state)."""
    state = _step(state)
    column = np.int64((state >> _SHIFT) % np.uint64(accept.shape[0]))
    state = _step(state)
    if (state >> _SHIFT) * _UNIT < accept[column]:
        return column, state
    return alias[column], state


@numba.njit(nogil=True, cache=True)
def draw_negatives(accept, alias, seed, count):
    """The first ``count`` draws of the stream that ``train_windows`` uses with this seed."""
    out = np.empty(count, dtype=np.int64)
    state = np.uint64(seed)
    for n in range(count):
        out[n], state = _draw(state, accept, alias)
    return out


@numba.njit(nogil=True, fastmath=True, cache=True)
def train_windows(syn0, syn1, ids, lo, hi, accept, alias, seed, k, alpha, skipgram, streams=1):
    """SGD over the windows of one part, in place on ``syn0``/``syn1`` (float32 [V, D]).

    Position i predicts ``ids[i]`` from the positions ``lo[i]..hi[i]`` except i (its window,
    already clipped to its line). The part is cut into ``streams`` equal segments, visited word
    by word in turn (segment 0's first window, segment 1's first, ..., then the second of each;
    ``visiting_order``); ``streams=1`` is word2vec.c's order. Negatives are drawn here, from the
    alias table ``accept``, ``alias`` (:class:`~multiview.objectives.skipgram.AliasSampler`) with
    word2vec.c's generator started at ``seed``: ``k`` for each (context, center) pair in
    skip-gram, for each window in CBOW, in the visiting order, only for pairs that exist; a draw
    equal to the center is skipped. Returns (loss per prediction over the first
    ``LOSS_WINDOWS`` windows, number of (context, center) pairs).
    """
    dim = syn0.shape[1]
    grad = np.empty(dim, dtype=np.float32)
    hidden = np.empty(dim, dtype=np.float32)
    widest = 0
    for i in range(ids.shape[0]):
        widest = max(widest, hi[i] - lo[i])
    negatives = np.empty(k * widest if skipgram else k, dtype=np.int64)
    state = np.uint64(seed)
    loss, predictions, pairs = 0.0, 0, 0
    n = ids.shape[0]
    segment = (n + streams - 1) // streams
    for step in range(segment * streams):
        i = (step % streams) * segment + step // streams  # word step // streams of a segment
        if i >= n:
            continue
        count = hi[i] - lo[i]
        if count <= 0:
            continue
        pairs += count
        center = ids[i]
        measure = i < LOSS_WINDOWS
        # the window's draws, in the order they are used, and every row it will touch
        _prefetch_row(syn1, center)
        for m in range(k * count if skipgram else k):
            negatives[m], state = _draw(state, accept, alias)
            _prefetch_row(syn1, negatives[m])
        for j in range(lo[i], hi[i] + 1):
            if j != i:
                _prefetch_row(syn0, ids[j])
        if skipgram:
            m = 0  # the next of the window's negatives
            for j in range(lo[i], hi[i] + 1):
                if j == i:
                    continue
                row = ids[j]
                grad[:] = 0.0
                hidden[:] = syn0[row]
                loss += _predict(hidden, syn1, center, 1.0, alpha, grad, measure)
                for _ in range(k):
                    if negatives[m] != center:
                        loss += _predict(hidden, syn1, negatives[m], 0.0, alpha, grad, measure)
                    m += 1
                for d in range(dim):
                    syn0[row, d] += grad[d]
                predictions += measure
        else:
            # rows read into locals: stores into syn0 may alias ``ids`` for the compiler, so an
            # ``ids[j]`` inside the row loop would be reloaded at every element
            hidden[:] = 0.0
            for j in range(lo[i], hi[i] + 1):
                if j != i:
                    row = ids[j]
                    for d in range(dim):
                        hidden[d] += syn0[row, d]
            scale = np.float32(1.0 / count)
            for d in range(dim):
                hidden[d] *= scale
            grad[:] = 0.0
            loss += _predict(hidden, syn1, center, 1.0, alpha, grad, measure)
            for m in range(k):
                if negatives[m] != center:
                    loss += _predict(hidden, syn1, negatives[m], 0.0, alpha, grad, measure)
            for j in range(lo[i], hi[i] + 1):
                if j != i:
                    row = ids[j]
                    for d in range(dim):
                        syn0[row, d] += grad[d]
            predictions += measure
    return loss / max(predictions, 1), pairs


def visiting_order(n: int, streams: int) -> np.ndarray:
    """The positions ``train_windows`` visits, in its order: ``streams`` segments of
    ``ceil(n / streams)`` words, one word of each in turn."""
    segment = -(-n // streams)
    order = np.arange(segment * streams).reshape(segment, streams) % streams * segment
    order += np.arange(segment)[:, None]
    return order[order < n]


def warm_up() -> None:
    """Compile (or load from the cache) before training, so that the first part is not timed
    with the compiler."""
    rows = np.zeros((1, 1), dtype=np.float32)
    none = np.zeros(0, dtype=np.int64)
    accept = np.ones(1, dtype=np.float32)
    alias = np.zeros(1, dtype=np.int64)
    for skipgram in (True, False):
        train_windows(rows, rows, none, none, none, accept, alias, 1, 1, 0.0, skipgram, STREAMS)
    draw_negatives(accept, alias, 1, 1)
