"""Seeded, resumable batching: a run stopped mid-epoch resumes on the very next batch.

:class:`EpochSampler` draws one seeded permutation per epoch and tags each index with its epoch
(``epoch * n + i``), so what a sample looks like depends only on ``(seed, epoch, i)``, not on the
worker count; it is the one sampler of every data module here (images, audio, video clips).
:class:`ResumableBatches` lets a data module record in each checkpoint how far
into the epoch the trainer got and, once restored, start the epoch there.
"""

from __future__ import annotations

import atexit
import multiprocessing.util  # noqa: F401  its exit hook is registered first, so ours runs before it
import os
import signal

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from multiview.data.workers import die_with_parent


class EpochSampler(DistributedSampler):
    """A seeded permutation per epoch whose indices carry the epoch: ``epoch * n + i``.

    Under DDP each rank takes every ``world_size``-th index of the same permutation (the last
    ``n % world_size`` are left out that epoch, so no sample is seen twice). It is a
    ``DistributedSampler``, so Lightning uses it as is and calls its ``set_epoch``; wrapped in
    Lightning's ``DistributedSamplerWrapper`` it would see epoch 0 for ever. Outside a process
    group it is the whole permutation on one rank.
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True, num_replicas: int | None = None,
                 rank: int | None = None):
        running = dist.is_available() and dist.is_initialized()
        num_replicas = num_replicas if num_replicas is not None else dist.get_world_size() if running else 1
        rank = rank if rank is not None else dist.get_rank() if running else 0
        super().__init__(range(n), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.n = n
        self.resume_at: tuple[int, int] | None = None  # (epoch, position on this rank) to start from once

    def __len__(self) -> int:
        return self.n // self.num_replicas  # a full epoch, also when resuming: Lightning counts skipped batches as done

    def __iter__(self):
        order = (torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100003 + self.epoch))
                 if self.shuffle else torch.arange(self.n))
        order = order[self.rank : len(self) * self.num_replicas : self.num_replicas]
        start = 0
        if self.resume_at is not None and self.resume_at[0] == self.epoch:
            start, self.resume_at = self.resume_at[1], None
        return iter((order[start:] + self.epoch * self.n).tolist())


def worker_ignores_sigterm(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: a SIGTERM sent to the whole process group (Slurm, systemd,
    ``kill -- -PGID``) is for the main process, which stops at a step boundary and saves; a worker
    that died of it would fail the run before it can save. Workers die with the main process,
    also when it is killed with SIGKILL (:func:`die_with_parent`)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent()


def _ignores_sigterm(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigIgn:"))
    except (OSError, StopIteration, ValueError):
        return False
    return bool(mask >> (signal.SIGTERM - 1) & 1)


def _kill_our_workers() -> None:
    """At exit, SIGKILL the daemonic children still alive that ignore SIGTERM (our DataLoader workers).

    multiprocessing's own exit hook ``terminate()``s (SIGTERM) its daemonic children, then joins
    them: a fit that fails while a persistent worker lives (the traceback still references the
    iterator) would wait on that join for ever. atexit runs hooks last-registered first, and this
    module imports ``multiprocessing.util`` (which registers that hook) before registering this one.
    """
    import multiprocessing

    for process in multiprocessing.active_children():
        if process.daemon and process.pid is not None and _ignores_sigterm(process.pid):
            try:
                os.kill(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            process.join(5)


atexit.register(_kill_our_workers)


class ResumableBatches:
    """Mixin for a LightningDataModule whose training batches resume mid-epoch.

    Lightning stores the data module's ``state_dict`` in every checkpoint: the epoch and how many
    samples of it the trainer has already trained on. On restore, the training sampler starts the
    epoch at that position (once), without decoding the skipped samples. Under DDP the position
    is each rank's own (every rank trains the same number of batches).
    """

    _train_sampler: EpochSampler | None = None
    _resume_at: tuple[int, int] | None = None

    def make_loader(self, dataset, train: bool, **options) -> DataLoader:
        """Training: resumable, seeded per epoch, whole batches. Evaluation: in order.

        Uses the data module's ``batch_size``, ``num_workers`` and ``seed``; ``options`` go to the
        ``DataLoader`` as they are (``pin_memory``, ``multiprocessing_context``, ...).
        """
        common = dict(batch_size=self.batch_size, num_workers=self.num_workers,
                      persistent_workers=self.num_workers > 0,
                      worker_init_fn=worker_ignores_sigterm if self.num_workers > 0 else None, **options)
        if not train:
            return DataLoader(dataset, **common)
        self._train_sampler = EpochSampler(len(dataset), self.seed)
        self._resume_sampler()
        return DataLoader(dataset, sampler=self._train_sampler, drop_last=True, **common)

    def state_dict(self) -> dict:
        trainer = getattr(self, "trainer", None)
        if trainer is None or self._train_sampler is None:
            return {}
        progress = trainer.fit_loop.epoch_loop.batch_progress
        if progress.is_last_batch:  # the epoch is done: resume at the start of the next one
            return {"epoch": trainer.current_epoch + 1, "position": 0}
        batch_size = trainer.train_dataloader.batch_size if trainer.train_dataloader is not None else 0
        return {"epoch": trainer.current_epoch, "position": progress.current.processed * (batch_size or 0)}

    def load_state_dict(self, state: dict) -> None:
        if "epoch" in state:
            self._resume_at = (int(state["epoch"]), int(state["position"]))
            self._resume_sampler()

    def _resume_sampler(self) -> None:
        # Lightning creates the resumed run's iterator before its set_epoch, and worker processes
        # fetch indices as soon as it exists: the sampler must already be in the resumed epoch.
        if self._train_sampler is not None and self._resume_at is not None:
            self._train_sampler.set_epoch(self._resume_at[0])
            self._train_sampler.resume_at = self._resume_at
