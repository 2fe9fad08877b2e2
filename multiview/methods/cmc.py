"""Contrastive Multiview Coding (Tian, Krishnan, Isola, ECCV 2020), any number of views.

Each view (``L``/``ab`` colour channels, a ``frame``, its ``audio``, a ``caption``...) has its own
encoder and projection head. Views of one sample are pulled together and other samples pushed
apart, over a graph of view pairs (Sec. 3.3): ``core`` (each view with an anchor view) or
``full`` (every pair), with optional per-pair weights. Two estimators: in-batch InfoNCE with
temperature (Eq. 2-3, candidates gathered from every GPU) and NCE against a memory bank per view
(Sec. 3.4). With the views ``frame`` and ``audio`` this is audio-visual correspondence
(Owens & Efros 2018; Arandjelovic & Zisserman 2017).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
import torch.nn as nn

from multiview.encoders.factory import IMAGE_VIEWS, build_encoder
from multiview.eval.cmc_report import image_probe_report, retrieval_report
from multiview.methods.base import Method
from multiview.objectives.infonce import multiview_info_nce, view_pairs
from multiview.objectives.memory_bank import MemoryBankNCE
from multiview.views import get_view


def projection_head(in_dim: int, out_dim: int) -> nn.Module:
    """The MLP head of SimCLR/CMC: Linear -> BN -> ReLU -> Linear."""
    return nn.Sequential(nn.Linear(in_dim, in_dim), nn.BatchNorm1d(in_dim), nn.ReLU(inplace=True),
                         nn.Linear(in_dim, out_dim))


class CMC(Method):
    """Encoders and heads per view, trained with multi-view InfoNCE or memory-bank NCE."""

    def __init__(self, views: list[str] = ["frame", "audio"], graph: str = "full",
                 anchor: str | None = None, pair_weights: dict[str, float] | None = None,
                 estimator: str = "infonce", nce_k: int = 4096, nce_momentum: float = 0.5,
                 n_data: int = 0, frame_arch: str = "small", frame_width: int = 32,
                 split_width: bool = True, audio_width: int = 32, sample_rate: int = 16000,
                 n_mels: int = 64, text_vectors: str | None = None, text_dim: int = 128,
                 proj_dim: int = 128, temperature: float = 0.1, lr: float = 2e-3,
                 weight_decay: float = 1e-4, optimizer: str = "adamw", warmup_fraction: float = 0.05):
        super().__init__(lr=lr, weight_decay=weight_decay, optimizer=optimizer,
                         warmup_fraction=warmup_fraction)
        self.save_hyperparameters()
        if len(views) < 2 or len(set(views)) != len(views):
            raise ValueError(f"model.views: expected two or more distinct views, got {views}")
        if temperature <= 0:
            raise ValueError(f"model.temperature: expected a positive number, got {temperature}")
        if estimator not in ("infonce", "nce"):
            raise ValueError(f"model.estimator: expected 'infonce' or 'nce', got {estimator!r}")
        self.views, self.temperature, self.estimator = list(views), temperature, estimator
        self.pairs = view_pairs(self.views, graph, anchor)
        names = {f"{a}-{b}" for a, b in self.pairs}
        unknown = set(pair_weights or {}) - names
        if unknown:
            raise ValueError(f"model.pair_weights: unknown pairs {sorted(unknown)}; the graph has {sorted(names)}")
        self.weights = {(a, b): (pair_weights or {}).get(f"{a}-{b}", 1.0) for a, b in self.pairs}
        self.encoders = nn.ModuleDict({v: build_encoder(
            v, frame_arch, frame_width, split_width, audio_width, sample_rate, n_mels,
            text_vectors, text_dim) for v in self.views})
        self.heads = nn.ModuleDict({v: projection_head(e.out_dim, proj_dim) for v, e in self.encoders.items()})
        self.bank = MemoryBankNCE(self.views, proj_dim, n_data, nce_k, temperature, nce_momentum) \
            if estimator == "nce" else None

    def setup(self, stage: str) -> None:
        if self.bank is not None and self.bank.n_data == 0 and self.trainer is not None:
            self.bank.resize(len(self.trainer.datamodule.train_set))

    def encode(self, batch: dict) -> dict[str, torch.Tensor]:
        """Encoder outputs (before the heads) of every view."""
        cache: dict = {}
        out = {}
        for v in self.views:
            x = get_view(batch, v, cache)
            if torch.is_tensor(x) and x.ndim == 4 and x.is_cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            out[v] = self.encoders[v](x)
        return out

    def embed(self, batch: dict) -> dict[str, torch.Tensor]:
        """Projected embeddings of every view, ``{view: [B, proj_dim]}``."""
        return {v: self.heads[v](h) for v, h in self.encode(batch).items()}

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        z = self.embed(batch)
        if self.bank is not None:
            total, per_pair = self.bank(z, batch["index"], self.pairs)
            total = sum(self.weights[p] * per_pair[f"{p[0]}-{p[1]}"] for p in self.pairs)
            return total, per_pair
        return multiview_info_nce(z, self.pairs, self.temperature, self.weights)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        total, per_pair = self.loss(batch)
        n = len(batch["index"])
        self.log("train/loss", total, prog_bar=True, batch_size=n)
        for name, value in per_pair.items():
            self.log(f"train/loss_{name}", value, batch_size=n)
        return total

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        z = self.embed(batch)
        total, _ = multiview_info_nce(z, self.pairs, self.temperature, self.weights)
        self.log("val/infonce", total, prog_bar=True, batch_size=len(batch["index"]), sync_dist=True)

    def final_report(self, trainer: L.Trainer, datamodule, run_dir: Path) -> dict[str, float]:
        baseline = self.random_init_copy()
        if baseline.bank is not None and baseline.bank.n_data == 0:
            baseline.bank.resize(self.bank.n_data)
        if all(v in IMAGE_VIEWS and v != "frame" for v in self.views):
            return image_probe_report(self, baseline, datamodule)
        return retrieval_report(self, baseline, datamodule.val_dataloader(), self.views, run_dir)
