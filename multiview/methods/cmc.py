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

import torch
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec, as_spec, build, plain
from multiview.methods.base import Method
from multiview.methods.parts import SimCLRProjectionHead
from multiview.objectives.infonce import multiview_info_nce, view_pairs
from multiview.objectives.memory_bank import MemoryBankNCE
from multiview.views.crops import TrainingCrops
from multiview.views.select import get_view, view_channels

DEFAULT_ENCODERS = {"L": EncoderSpec(width=16), "ab": EncoderSpec(width=16),
                    "audio": EncoderSpec("logmel_resnet"), "caption": EncoderSpec("word_bag")}


class CMC(Method):
    """Encoders and heads per view, trained with multi-view InfoNCE or memory-bank NCE.

    Figures: ``loss`` (the weighted sum over pairs) and ``loss_<a>-<b>`` per pair; held-out
    batches are scored with in-batch InfoNCE whatever the estimator (the banks are not touched).

    Args:
        views: two or more of frame, image, rgb, L, ab, audio, caption.
        encoders: an encoder spec per view, e.g. ``{frame: {name: small_resnet, width: 16}}``;
            views not named get small_resnet (width 32; 16 for the split L/ab encoders of
            Sec. 4.1), logmel_resnet for audio, word_bag for captions.
        graph: "full" (every pair of views) or "core" (each view with the anchor), Sec. 3.3.
        anchor: the core view (default: the first).
        pair_weights: weight per pair, e.g. ``{"frame-audio": 2.0}`` (default 1).
        estimator: "infonce" (in-batch, gathered across GPUs) or "nce" (memory bank, Sec. 3.4).
        nce_k: negatives drawn from the memory bank per positive.
        nce_momentum: memory-bank update momentum.
        n_data: training-set size for the memory bank (0: taken from the data module).
        sample_rate: audio sample rate, Hz (linked to the data's).
        proj_dim: width of the projection heads' output.
        temperature: softmax temperature tau of Eq. 2.
        augment: crop and flip of the training images before the colour views are taken
            (:class:`~multiview.views.crops.TrainingCrops`; Sec. 4.1 crops and flips); None: as they are.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, views: tuple[str, ...] = ("frame", "audio"), encoders: dict[str, EncoderSpec] | None = None,
                 graph: str = "full", anchor: str | None = None, pair_weights: dict[str, float] | None = None,
                 estimator: str = "infonce", nce_k: int = 4096, nce_momentum: float = 0.5,
                 n_data: int = 0, sample_rate: int = 16000, proj_dim: int = 128,
                 temperature: float = 0.1, augment: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        encoders = {v: plain(spec) for v, spec in (encoders or {}).items()}
        self.save_hyperparameters()
        if len(views) < 2 or len(set(views)) != len(views):
            raise UserError(f"model.views: expected two or more distinct views, got {views}")
        if temperature <= 0:
            raise UserError(f"model.temperature: expected a positive number, got {temperature}")
        if estimator not in ("infonce", "nce"):
            raise UserError(f"model.estimator: expected 'infonce' or 'nce', got {estimator!r}")
        unknown_views = set(encoders or {}) - set(views)
        if unknown_views:
            raise UserError(f"model.encoders: {sorted(unknown_views)} are not among model.views {views}")
        self.views, self.temperature, self.estimator = list(views), temperature, estimator
        self.pairs = view_pairs(self.views, graph, anchor)
        names = {f"{a}-{b}" for a, b in self.pairs}
        unknown = set(pair_weights or {}) - names
        if unknown:
            raise UserError(f"model.pair_weights: unknown pairs {sorted(unknown)}; the graph has {sorted(names)}")
        self.weights = {(a, b): (pair_weights or {}).get(f"{a}-{b}", 1.0) for a, b in self.pairs}
        specs = {v: as_spec((encoders or {}).get(v), DEFAULT_ENCODERS.get(v)) for v in self.views}
        try:
            self.nets = nn.ModuleDict({v: build(specs[v], view_channels(v), sample_rate) for v in self.views})
        except (ValueError, TypeError) as e:
            raise UserError(f"model.encoders: {e}") from None
        self.heads = nn.ModuleDict({v: SimCLRProjectionHead(e.out_dim, e.out_dim, proj_dim, hidden_bias=True)
                                    for v, e in self.nets.items()})
        self.crops = TrainingCrops(augment)
        self.bank = MemoryBankNCE(self.views, proj_dim, n_data, nce_k, temperature, nce_momentum) \
            if estimator == "nce" else None

    def encoders(self) -> dict[str, nn.Module]:
        return dict(self.nets.items())

    def setup(self, stage: str) -> None:
        if self.bank is not None and self.bank.n_data == 0 and self.trainer is not None:
            self.bank.resize(len(self.trainer.datamodule.train_set))

    def encode(self, batch: dict) -> dict[str, torch.Tensor]:
        """Encoder outputs (before the heads) of every view."""
        cache: dict = {}
        out = {}
        for v in self.views:
            out[v] = self.nets[v](get_view(batch, v, cache))
        return out

    def embed(self, batch: dict) -> dict[str, torch.Tensor]:
        """Projected embeddings of every view, ``{view: [B, proj_dim]}``."""
        return {v: self.heads[v](h) for v, h in self.encode(batch).items()}

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        """``loss`` and ``loss_<a>-<b>`` per pair of views: memory-bank NCE while training with
        ``estimator: nce`` (Sec. 3.4), else in-batch InfoNCE (Eq. 2-3)."""
        if "image" in batch:
            batch = {**batch, "image": self.crops(self, batch["image"], batch_idx)}
        z = self.embed(batch)
        if self.bank is not None and self.training:
            _, per_pair = self.bank(z, batch["index"], self.pairs)
            total = sum(self.weights[p] * per_pair[f"{p[0]}-{p[1]}"] for p in self.pairs)
        else:
            total, per_pair = multiview_info_nce(z, self.pairs, self.temperature, self.weights)
        return {"loss": total, **{f"loss_{pair}": value for pair, value in per_pair.items()}}
