"""Continuous bag of words with negative sampling (Mikolov et al. 2013a, "Efficient Estimation of
Word Representations in Vector Space", sec. 3.1; negative sampling from Mikolov et al. 2013b,
eq. 4), with the mean of the context vectors as gensim's ``cbow_mean=1``.

For a center word c with context words o_1..o_G in its (dynamically shrunk) window and K
negatives n_1..n_K, the context's mean input vector predicts the center:

    h_c = (1/G) sum_g v_{o_g}
    L_c = - [ log s(h_c . u_c) + sum_k log s(-h_c . u_{n_k}) ]

with v = input vectors (``syn0``), u = output vectors (``syn1neg``), s the logistic sigmoid.
As word2vec.c and gensim (``fast_sentence_cbow_neg`` with ``cbow_mean=1``) do, every context
row takes the whole step along dL/dh, not dL/dh / G, the exact gradient of the mean: the
update of ``syn0`` is G times the gradient of L. Windows come packed by context count G
(:func:`multiview.objectives.skipgram.window_contexts`), so a batch's mean needs no mask.
"""

from __future__ import annotations

import torch

from multiview.objectives.skipgram import negative_sampling_loss


def cbow_loss(syn0, syn1, contexts, outputs, weights) -> torch.Tensor:
    """The loss above summed over windows (differentiable reference). ``contexts [n, G]`` input
    word ids, ``outputs [n, 1+K]`` the center then its negatives, ``weights [n, 1+K]``."""
    hidden = syn0[contexts].mean(1)
    scores = torch.bmm(syn1[outputs], hidden[:, :, None]).squeeze(2)
    return negative_sampling_loss(scores, weights)


@torch.no_grad()
def cbow_update(syn0, syn1, contexts, outputs, weights, alpha: float, with_loss: bool = False):
    """One step in place (arguments as in :func:`cbow_loss`): ``syn1 -= alpha * dL/dsyn1`` and,
    as word2vec.c and gensim, ``v_o -= alpha * dL/dh`` for every context row o (G times dL/dv_o).

    All windows in the batch see the same parameter values; their gradients are summed into the
    rows with ``index_add_``. With ``with_loss``, returns the batch's loss before the step.
    """
    n, g = contexts.shape
    dim = syn0.shape[1]
    contexts, outputs = contexts.reshape(-1), outputs.reshape(-1)
    hidden = syn0.index_select(0, contexts).view(n, g, dim).mean(1)
    outs = syn1.index_select(0, outputs).view(n, -1, dim)
    scores = torch.bmm(outs, hidden[:, :, None]).squeeze(2)
    loss = float(negative_sampling_loss(scores, weights)) if with_loss else None
    # step = alpha * (label - s(score)) * weight = -alpha * dL/dscore, [n, 1+K]
    step = scores.sigmoid_()
    step[:, 0] -= 1.0
    step.mul_(weights * -alpha)
    to_inputs = torch.bmm(step[:, None, :], outs).squeeze(1)
    syn0.index_add_(0, contexts, to_inputs[:, None, :].expand(n, g, dim).reshape(-1, dim))
    syn1.index_add_(0, outputs, torch.bmm(step[:, :, None], hidden[:, None, :]).view(-1, dim))
    return loss
