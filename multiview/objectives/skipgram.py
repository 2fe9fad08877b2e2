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

    def to(self, device) -> "AliasSampler":
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


def window_contexts(sentence: torch.Tensor, window: int, generator=None):
    """Dynamic windows over a token sequence, grouped by effective window size.

    Each position draws b uniformly in [0, window) and takes the contexts within
    ``e = window - b`` on either side, inside its own sentence (word2vec.c's
    ``b = next_random % window``). Returns ``[(centers [n], contexts [n, 2e], valid [n, 2e])]``
    for each e present: positions into the sequence (clamped into range), and whether each slot
    lies inside the sentence. Grouping by e keeps the batched products free of padding.
    """
    m = sentence.numel()
    device = sentence.device
    effective = window - torch.randint(0, window, (m,), generator=generator, device=device)
    positions = torch.arange(m, device=device)
    groups = []
    for e in range(1, window + 1):
        centers = positions[effective == e]
        if centers.numel() == 0:
            continue
        offsets = torch.cat([torch.arange(-e, 0, device=device), torch.arange(1, e + 1, device=device)])
        contexts = centers[:, None] + offsets
        valid = (contexts >= 0) & (contexts < m)
        contexts.clamp_(0, m - 1)
        valid &= sentence[contexts] == sentence[centers][:, None]
        groups.append((centers, contexts, valid))
    return groups


def pair_weights(centers: torch.Tensor, valid: torch.Tensor, negatives: torch.Tensor):
    """Output ids ``[n, 1+K]`` (center, then negatives) and 0/1 weights ``[n, G, 1+K]``.

    A weight is 0 for a context slot outside the sentence, and for a negative that equals its
    center (word2vec.c skips those draws).
    """
    outputs = torch.cat([centers[:, None], negatives], 1)
    out_ok = outputs != centers[:, None]
    out_ok[:, 0] = True
    return outputs, (valid[:, :, None] & out_ok[:, None, :]).float()


def sgns_loss(syn0, syn1, contexts, outputs, weights) -> torch.Tensor:
    """Eq. 4 summed over windows (differentiable reference). ``contexts [n, G]`` input word ids,
    ``outputs [n, 1+K]`` the center then its negatives, ``weights [n, G, 1+K]``."""
    scores = torch.bmm(syn0[contexts], syn1[outputs].transpose(1, 2))
    sign = torch.full_like(scores[:1, :1, :], -1.0)
    sign[..., 0] = 1.0
    return -(F.logsigmoid(sign * scores) * weights).sum()


@torch.no_grad()
def sgns_update(syn0, syn1, contexts, outputs, weights, alpha: float) -> None:
    """One SGD step of eq. 4 in place, ``syn -= alpha * dL/dsyn`` (arguments as in :func:`sgns_loss`).

    All windows in the batch see the same parameter values; their gradients are summed into the
    rows with ``index_add_`` (sparse row updates, no autograd).
    """
    n, g = contexts.shape
    dim = syn0.shape[1]
    contexts, outputs = contexts.reshape(-1), outputs.reshape(-1)
    inputs = syn0.index_select(0, contexts).view(n, g, dim)
    outs = syn1.index_select(0, outputs).view(n, -1, dim)
    # step = alpha * (label - s(score)) * weight = -alpha * dL/dscore
    step = torch.bmm(inputs, outs.transpose(1, 2)).sigmoid_()
    step[:, :, 0] -= 1.0
    step.mul_(weights * -alpha)
    step_t = step.transpose(1, 2).contiguous()
    syn0.index_add_(0, contexts, torch.bmm(step_t.transpose(1, 2), outs).view(-1, dim))
    syn1.index_add_(0, outputs, torch.bmm(step_t, inputs).view(-1, dim))
