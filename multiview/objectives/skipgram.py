"""Skip-gram with negative sampling (Mikolov et al. 2013, "Distributed Representations of Words
and Phrases and their Compositionality", eq. 4), batched as in Ji et al. 2016 ("Parallelizing
Word2Vec in Shared and Distributed Memory", HogBatch).

For a center word c with context words o_1..o_G in its (dynamically shrunk) window and K
negatives n_1..n_K drawn once for that window from the unigram^0.75 distribution, the loss is

    L_c = - sum_g [ log s(v_{o_g} . u_c) + sum_k log s(-v_{o_g} . u_{n_k}) ]        (eq. 4)

with v = input vectors (``syn0``), u = output vectors (``syn1neg``), s the logistic sigmoid. As in
word2vec.c the context word's input vector predicts the center word. Sharing the negatives within
a window turns the update into batched matrix products: [G, D] x [D, K+1] per window.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


class AliasSampler:
    """Draws word ids from counts^power (Mikolov et al. 2013, sec. 2.2: the unigram distribution
    raised to 3/4) in O(1) per draw with Walker's alias method (Vose 1991 construction)."""

    def __init__(self, counts, power: float = 0.75):
        p = np.asarray(counts, dtype=np.float64) ** power
        self.probabilities = p / p.sum()
        n = len(p)
        scaled = self.probabilities * n
        accept = np.ones(n)
        alias = np.arange(n)
        small = [i for i in range(n) if scaled[i] < 1.0]
        large = [i for i in range(n) if scaled[i] >= 1.0]
        while small and large:
            s, g = small.pop(), large.pop()
            accept[s], alias[s] = scaled[s], g
            scaled[g] -= 1.0 - scaled[s]
            (small if scaled[g] < 1.0 else large).append(g)
        self.accept = torch.from_numpy(accept.astype(np.float32))
        self.alias = torch.from_numpy(alias.astype(np.int64))

    def to(self, device) -> AliasSampler:
        self.accept, self.alias = self.accept.to(device), self.alias.to(device)
        return self

    def sample(self, shape: tuple[int, ...], generator=None) -> torch.Tensor:
        device = self.accept.device
        column = torch.randint(0, self.accept.numel(), shape, generator=generator, device=device)
        u = torch.rand(shape, generator=generator, device=device)
        return torch.where(u < self.accept[column], column, self.alias[column])


def initial_vectors(n: int, dim: int, generator=None) -> torch.Tensor:
    """Input vectors before training: uniform in [-0.5/D, 0.5/D) (word2vec.c's initialisation)."""
    return (torch.rand(n, dim, generator=generator) - 0.5) / dim


def subsample(ids: torch.Tensor, keep_prob: torch.Tensor, generator=None) -> torch.Tensor:
    """Boolean mask: keep each token with its word's probability (word2vec.c subsampling)."""
    u = torch.rand(ids.shape, generator=generator, device=ids.device, dtype=keep_prob.dtype)
    return u < keep_prob[ids]


def reduced_windows(n: int, window: int, generator=None, device=None) -> torch.Tensor:
    """Each position's effective window ``e = window - b``, b uniform in [0, window) (word2vec.c's
    ``b = next_random % window``, gensim's ``reduced_windows``)."""
    return window - torch.randint(0, window, (n,), generator=generator, device=device)


def window_bounds(sentence: torch.Tensor, effective: torch.Tensor):
    """First and last context position ``lo [m]``, ``hi [m]`` of each position's window.

    ``sentence [m]`` is the (non-decreasing) sentence index of each token, ``effective [m]`` its
    window size e. The contexts of position i are the positions ``j != i`` in ``[lo_i, hi_i]``:
    ``[i - e, i + e]`` clipped to i's own sentence (gensim's ``j = max(i - e, start)``,
    ``k = min(i + e + 1, end)``), so windows never cross a line; ``hi_i - lo_i`` contexts.
    """
    positions = torch.arange(sentence.numel(), device=sentence.device)
    _, counts = torch.unique_consecutive(sentence, return_counts=True)
    ends = torch.cumsum(counts, 0)
    first = torch.repeat_interleave(ends - counts, counts)
    last = torch.repeat_interleave(ends - 1, counts)
    return torch.maximum(positions - effective, first), torch.minimum(positions + effective, last)


def window_contexts(sentence: torch.Tensor, effective: torch.Tensor):
    """The windows of :func:`window_bounds`, packed by their number of contexts G, so that a
    group's batched products need no padding (on short lines a padded window would spend a
    third of its products on slots outside the line). Returns ``[(centers [n], contexts [n, G])]``
    (positions) for each G present; centers with no context (one-word lines) are dropped.
    """
    if sentence.numel() == 0:
        return []
    lo, hi = window_bounds(sentence, effective)
    size, order = torch.sort(hi - lo, stable=True)
    per_size = torch.bincount(size).tolist()
    groups, at = [], per_size[0]
    for g, n in enumerate(per_size[1:], 1):
        if n == 0:
            continue
        centers = order[at : at + n]
        at += n
        contexts = lo[centers, None] + torch.arange(g, device=sentence.device)
        contexts += contexts >= centers[:, None]
        groups.append((centers, contexts))
    return groups


def pair_weights(centers: torch.Tensor, negatives: torch.Tensor):
    """Output ids ``[n, 1+K]`` (center, then negatives) and their 0/1 weights ``[n, 1+K]``: 0 for
    a negative that equals its center (word2vec.c skips those draws)."""
    outputs = torch.cat([centers[:, None], negatives], 1)
    out_ok = outputs != centers[:, None]
    out_ok[:, 0] = True
    return outputs, out_ok.float()


def negative_sampling_loss(scores: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``-sum w [log s(score_0) + sum_k log s(-score_k)]`` over scores ``[..., 1+K]`` (the true
    output's score first, then the negatives'), weights broadcast against the scores."""
    sign = torch.full((scores.shape[-1],), -1.0, dtype=scores.dtype, device=scores.device)
    sign[0] = 1.0
    return -(F.logsigmoid(sign * scores) * weights).sum()


def _per_slot(weights: torch.Tensor) -> torch.Tensor:
    return weights[:, None, :] if weights.dim() == 2 else weights


def sgns_loss(syn0, syn1, contexts, outputs, weights) -> torch.Tensor:
    """Eq. 4 summed over windows (differentiable reference). ``contexts [n, G]`` input word ids,
    ``outputs [n, 1+K]`` the center then its negatives, ``weights [n, 1+K]`` or ``[n, G, 1+K]``."""
    scores = torch.bmm(syn0[contexts], syn1[outputs].transpose(1, 2))
    return negative_sampling_loss(scores, _per_slot(weights))


@torch.no_grad()
def sgns_update(syn0, syn1, contexts, outputs, weights, alpha: float, with_loss: bool = False):
    """One SGD step of eq. 4 in place, ``syn -= alpha * dL/dsyn`` (arguments as in :func:`sgns_loss`).

    All windows in the batch see the same parameter values; their gradients are summed into the
    rows with ``index_add_`` (sparse row updates, no autograd). With ``with_loss``, returns the
    batch's loss before the step, from the same scores (else None).
    """
    n, g = contexts.shape
    dim = syn0.shape[1]
    weights = _per_slot(weights)
    contexts, outputs = contexts.reshape(-1), outputs.reshape(-1)
    inputs = syn0.index_select(0, contexts).view(n, g, dim)
    outs = syn1.index_select(0, outputs).view(n, -1, dim)
    scores = torch.bmm(inputs, outs.transpose(1, 2))
    loss = float(negative_sampling_loss(scores, weights)) if with_loss else None
    # step = alpha * (label - s(score)) * weight = -alpha * dL/dscore
    step = scores.sigmoid_()
    step[:, :, 0] -= 1.0
    step.mul_(weights * -alpha)
    step_t = step.transpose(1, 2).contiguous()
    syn0.index_add_(0, contexts, torch.bmm(step_t.transpose(1, 2), outs).view(-1, dim))
    syn1.index_add_(0, outputs, torch.bmm(step_t, inputs).view(-1, dim))
    return loss
