"""MoCo's InfoNCE against a queue of keys (He et al. 2020, Eq. 1; MoCo v2, Chen et al. 2020).

For a query ``q`` (online encoder) and its key ``k+`` (momentum encoder, same image, other
augmentation), with the ``K`` keys of earlier batches in a queue as negatives, all L2-normalised:

    L_q = -log( exp(q . k+ / tau) / (exp(q . k+ / tau) + sum_{i=1..K} exp(q . k_i / tau)) ).

After each step the batch's keys, gathered from every rank, replace the oldest ``K`` entries
(the queue and its pointer are buffers, so a checkpoint resumes them exactly).

Shuffling BN (Sec. 3.3): the key encoder sees the batch in a permuted order so that its
BatchNorm statistics are not computed on the same sub-batch as the query's. Under DDP the
batch is gathered from every rank, permuted by a permutation every rank draws from the same
seed, and each rank encodes its slice; the keys are then gathered and put back in order.
On one process the batch is shuffled within itself.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from multiview.objectives.gather import gather_no_grad, is_distributed, rank_offset


def moco_info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """Mean InfoNCE of ``[N, D]`` queries with their keys ``[N, D]`` against ``queue`` ``[K, D]``."""
    q = F.normalize(q.float(), dim=1)
    k = F.normalize(k.float(), dim=1).detach()
    pos = (q * k).sum(1, keepdim=True)
    neg = q @ F.normalize(queue.float(), dim=1).detach().T
    logits = torch.cat([pos, neg], 1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


class KeyQueue(nn.Module):
    """A FIFO of ``size`` L2-normalised keys of width ``dim`` (random at the start, as in MoCo)."""

    def __init__(self, size: int, dim: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("keys", F.normalize(torch.randn(size, dim, generator=g), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def push(self, k: torch.Tensor) -> None:
        """Enqueue this step's keys from every rank (rank order), overwriting the oldest."""
        k = F.normalize(gather_no_grad(k.detach().float()), dim=1)
        size, p = len(self.keys), int(self.ptr)
        k = k[-size:]
        idx = (torch.arange(len(k), device=k.device) + p) % size
        self.keys[idx] = k.to(self.keys.dtype)
        self.ptr.fill_((p + len(k)) % size)


def shuffled_encode(encoder, x: torch.Tensor, seed: int) -> torch.Tensor:
    """``encoder`` applied to the global batch in a shuffled order, outputs back in ``x``'s order.

    Every rank draws the same permutation of the global batch from ``seed``, encodes its slice of
    the shuffled batch (so BatchNorm sees a mix of every rank's samples), and the outputs are
    gathered and unshuffled. Gradients do not flow (the key encoder is not trained by backprop).
    """
    with torch.no_grad():
        n = len(x)
        full = gather_no_grad(x)
        perm = torch.randperm(len(full), generator=torch.Generator().manual_seed(seed)).to(x.device)
        off = rank_offset(n)
        out_local = encoder(full[perm[off:off + n]])
        out = gather_no_grad(out_local) if is_distributed() else out_local
        restored = torch.empty_like(out)
        restored[perm] = out
        return restored[off:off + n]
