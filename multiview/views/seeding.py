"""Where every random number of an augmentation comes from: ``(seed, global step, sample, stream)``.

A pipeline (:class:`~multiview.views.augment.ImageAugment`, :class:`~multiview.views.augment.AudioAugment`,
:func:`~multiview.views.frames.augment_frames`) reads a fixed number of uniforms per sample, one
row of :func:`sample_draws` each. Row ``i`` of rank ``r``'s batch of ``B`` samples is drawn from a
generator seeded by ``(seed, step, r * B + i, stream)`` alone: the sample's place in the global
batch, the optimizer step (restored from a checkpoint) and the stream that tells views apart. So a
run resumed from a checkpoint sees exactly the views an unbroken run sees, and a sample's view
does not depend on the batch's other samples or on any generator's history.
"""

from __future__ import annotations

import os

import torch

_MASK = (1 << 64) - 1
VAL_STEP = 10_000_000  # held-out batch k draws as step VAL_STEP + k, apart from every training step


def mixed_seed(*parts: int) -> int:
    """One 63-bit seed from integers (a splitmix64 chain): nearby tuples give unrelated seeds."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ (int(p) & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        h = ((h ^ (h >> 31)) * 0x94D049BB133111EB) & _MASK
        h ^= h >> 29
    return h >> 1


def generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator for ``(seed, step, stream)``: one set of draws for a whole batch (tests and
    one-off use; training draws per sample with :func:`sample_draws`)."""
    return torch.Generator().manual_seed(mixed_seed(seed, step, -1, stream))


def global_index(batch: int, rank: int = 0) -> torch.Tensor:
    """The places ``rank * batch + i`` of a rank's ``batch`` samples in the global batch."""
    return torch.arange(batch) + rank * batch


def sample_draws(seed: int, step: int, index: torch.Tensor, stream: int, n: int) -> torch.Tensor:
    """``[len(index), n]`` uniforms in [0, 1): row ``i`` from ``(seed, step, index[i], stream)`` alone."""
    rows = [torch.rand(n, generator=torch.Generator().manual_seed(mixed_seed(seed, step, int(i), stream)))
            for i in index.tolist()]
    return torch.stack(rows) if rows else torch.zeros(0, n)


def as_draws(source: torch.Generator | torch.Tensor, batch: int, n: int) -> torch.Tensor:
    """``[batch, >= n]`` uniforms: ``source`` itself (per-sample draws), or drawn from a generator."""
    if isinstance(source, torch.Generator):
        return torch.rand(batch, n, generator=source)
    if source.ndim != 2 or source.shape[0] != batch or source.shape[1] < n:
        raise ValueError(f"draws: expected [{batch}, >={n}] uniforms, got {list(source.shape)}")
    return source.detach().float().cpu()


def seed_step(step: int, rank: int = 0) -> None:
    """Seed torch's global generators (CPU and CUDA) from ``(run seed, step, rank)``: what a method
    draws outside its views (jigsaw's permutations, memory-bank negatives, dropout) then depends on
    the step alone, so a resumed run draws what an unbroken one does. The run seed is Lightning's
    ``seed_everything`` value (``PL_GLOBAL_SEED``), 0 when unset."""
    torch.manual_seed(mixed_seed(int(os.environ.get("PL_GLOBAL_SEED") or 0), step, rank, -2))


def view_step(module, batch_idx: int = 0) -> tuple[int, int]:
    """``(step, rank)`` that seed a LightningModule's views of a batch: the global step while
    training (the same after a resume), ``VAL_STEP + batch_idx`` on held-out batches."""
    step = module.global_step if module.training else VAL_STEP + batch_idx
    return step, module.global_rank
