"""Seeded, resumable batching: a run stopped mid-epoch resumes on the very next batch.

:class:`EpochSampler` draws one seeded permutation per epoch and tags each index with its epoch
(``epoch * n + i``), so what a sample looks like depends only on ``(seed, epoch, i)``, not on the
worker count. :class:`ResumableBatches` lets a data module record in each checkpoint how far
into the epoch the trainer got and, once restored, start the epoch there.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Sampler


class EpochSampler(Sampler):
    """A seeded permutation per epoch whose indices carry the epoch: ``epoch * n + i``."""

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True):
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.epoch = 0
        self.resume_at: tuple[int, int] | None = None  # (epoch, position) to start from once

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n  # a full epoch, also when resuming: Lightning counts the skipped batches as done

    def __iter__(self):
        order = (torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100003 + self.epoch))
                 if self.shuffle else torch.arange(self.n))
        start = 0
        if self.resume_at is not None and self.resume_at[0] == self.epoch:
            start, self.resume_at = self.resume_at[1], None
        return iter((order[start:] + self.epoch * self.n).tolist())


class ResumableBatches:
    """Mixin for a LightningDataModule whose training batches resume mid-epoch.

    Lightning stores the data module's ``state_dict`` in every checkpoint: the epoch and how many
    samples of it the trainer has already trained on. On restore, the training sampler starts the
    epoch at that position (once), without decoding the skipped samples.
    """

    _train_sampler: EpochSampler | None = None
    _resume_at: tuple[int, int] | None = None

    def make_loader(self, dataset, train: bool) -> DataLoader:
        """Training: resumable, seeded per epoch, whole batches. Evaluation: in order.

        Uses the data module's ``batch_size``, ``num_workers`` and ``seed``.
        """
        common = dict(batch_size=self.batch_size, num_workers=self.num_workers,
                      persistent_workers=self.num_workers > 0)
        if not train:
            return DataLoader(dataset, **common)
        self._train_sampler = EpochSampler(len(dataset), self.seed)
        self._train_sampler.resume_at = self._resume_at
        return DataLoader(dataset, sampler=self._train_sampler, drop_last=True, **common)

    def state_dict(self) -> dict:
        trainer = getattr(self, "trainer", None)
        if trainer is None or self._train_sampler is None:
            return {}
        processed = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        batch_size = trainer.train_dataloader.batch_size if trainer.train_dataloader is not None else 0
        return {"epoch": trainer.current_epoch, "position": processed * (batch_size or 0)}

    def load_state_dict(self, state: dict) -> None:
        if "epoch" in state:
            self._resume_at = (int(state["epoch"]), int(state["position"]))
            if self._train_sampler is not None:
                self._train_sampler.resume_at = self._resume_at
