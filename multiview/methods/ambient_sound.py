"""Ambient sound as supervision: a frame network predicts the statistics of the sound around it.

Owens, Wu, McDermott, Freeman, Torralba, "Ambient Sound Provides Supervision for Visual
Learning", ECCV 2016. The sound around each frame is summarised by its sound-texture statistics
(McDermott & Simoncelli 2011; :mod:`multiview.objectives.sound_texture`); the statistics of the
training corpus are reduced by PCA and clustered by k-means (k=30 in the paper), and a frame
encoder with a linear classifier is trained with cross-entropy to predict the cluster of its
sound (Sec. 3.2). The paper's alternative target, the sign of each PCA projection with one
logistic loss per bit, is ``targets="binary"``.

Targets are fitted when training starts, from the training corpus' audio (or loaded from
``targets_path``, written by ``multiview data ambient_targets``), and travel in the checkpoint.
Statistics are computed on the batch, on the model's device; they are never differentiated.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec, build, plain
from multiview.methods.base import Method
from multiview.objectives.ambient_targets import AmbientTargets
from multiview.objectives.sound_texture import SoundTexture
from multiview.views.select import get_view


class AmbientSound(Method):
    """Frame encoder + linear head over sound clusters (cross-entropy) or PCA-sign bits (BCE).

    Figures: ``loss`` and ``acc`` (of the cluster, or per bit). The head is one Linear layer
    (after an optional dropout), the paper's classifier on the frame network's features.

    Args:
        encoder: the frame encoder, e.g. ``{name: small_resnet, width: 32}`` or ``{name: alexnet}``.
        targets: "clusters" (k-means over PCA'd statistics, cross-entropy) or "binary" (PCA signs).
        n_clusters: k of the k-means targets (30 in the paper).
        n_bits: PCA projections whose signs are the binary targets.
        n_components: PCA components kept before clustering.
        targets_path: fitted targets to load (``multiview data ambient_targets``); empty: fit at start.
        fit_batches: batches of training audio to fit the targets on (0: all).
        sample_rate: audio sample rate, Hz (linked to the data's).
        n_bands: cochlear subbands of the sound-texture statistics.
        dropout: dropout before the classifier.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, targets: str = "clusters",
                 n_clusters: int = 30, n_bits: int = 30, n_components: int = 32,
                 targets_path: str = "", fit_batches: int = 0, sample_rate: int = 16000,
                 n_bands: int = 32, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        encoder = plain(encoder)
        self.save_hyperparameters()
        if targets not in ("clusters", "binary"):
            raise UserError(f"model.targets: expected 'clusters' or 'binary', got {targets!r}")
        try:
            self.frame_encoder = build(encoder or EncoderSpec())
        except (ValueError, TypeError) as e:
            raise UserError(f"model.encoder: {e}") from None
        if self.frame_encoder.modality != "frame":
            raise UserError(f"model.encoder: expected a frame encoder, got a {self.frame_encoder.modality} one")
        self.target_kind = targets
        self.n_out = n_clusters if targets == "clusters" else n_bits
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.frame_encoder.out_dim, self.n_out))
        self.texture = SoundTexture(sample_rate, n_bands)
        self.targets: AmbientTargets | None = None

    # --- targets --------------------------------------------------------------------------
    @torch.no_grad()
    def corpus_statistics(self, dataset, batch_size: int = 64, num_workers: int = 0) -> torch.Tensor:
        """Texture statistics of the sound of every sample of ``dataset`` (its first epoch's moments)."""
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
        stats = []
        for i, batch in enumerate(loader):
            if self.hparams.fit_batches and i >= self.hparams.fit_batches:
                break
            with torch.autocast(self.device.type, enabled=False):
                stats.append(self.texture(batch["audio"].to(self.device).float()))
        return torch.cat(stats)

    def fit_targets(self, stats: torch.Tensor) -> AmbientTargets:
        h = self.hparams
        return AmbientTargets.fit(stats, k=h.n_clusters, mode=h.targets, n_bits=h.n_bits,
                                  n_components=h.n_components, seed=0)

    def on_fit_start(self) -> None:
        if self.targets is not None:
            return
        if self.hparams.targets_path:
            self.targets = AmbientTargets.load(self.hparams.targets_path)
        else:
            dm = self.trainer.datamodule
            if dm is None or getattr(dm, "train_set", None) is None:
                raise UserError("ambient-sound targets need a datamodule with a train_set, or model.targets_path")
            stats = self.corpus_statistics(dm.train_set, dm.batch_size, dm.num_workers)
            self.targets = self.fit_targets(stats)
        if self.targets.mode != self.target_kind or self.targets.n_classes != self.n_out:
            raise UserError(f"targets: expected {self.target_kind} with {self.n_out} classes, got "
                            f"{self.targets.mode} with {self.targets.n_classes}")
        if self.targets.state["mean"].numel() != self.texture.dim:
            raise UserError(f"targets: fitted on {self.targets.state['mean'].numel()} statistics, "
                            f"this model computes {self.texture.dim}")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        if self.targets is not None:
            checkpoint["ambient_targets"] = self.targets.state

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        if "ambient_targets" in checkpoint:
            self.targets = AmbientTargets(checkpoint["ambient_targets"])

    @torch.no_grad()
    def sound_targets(self, audio: torch.Tensor) -> torch.Tensor:
        """Cluster index ``[B]`` or bits ``[B, n_bits]`` of each waveform."""
        if self.targets is None:
            raise UserError("ambient-sound targets are not fitted yet (train first, or give model.targets_path)")
        with torch.autocast(audio.device.type, enabled=False):
            return self.targets.assign(self.texture(audio.float()))

    # --- training -------------------------------------------------------------------------
    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        return self.head(self.frame_encoder(frame))

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        """``loss``: cross-entropy over the sound's cluster (Sec. 3.2), or one logistic loss per
        PCA-sign bit; ``acc``: how often the cluster (each bit) is named."""
        y = self.sound_targets(get_view(batch, "audio"))
        logits = self(get_view(batch, self.resolve(batch, "input", "frame"))).float()
        if self.target_kind == "clusters":
            return {"loss": F.cross_entropy(logits, y), "acc": (logits.argmax(1) == y).float().mean()}
        return {"loss": F.binary_cross_entropy_with_logits(logits, y),
                "acc": ((logits > 0).float() == y).float().mean()}

    def encoders(self) -> dict[str, nn.Module]:
        return {"frame": self.frame_encoder}

    def on_fit_end(self) -> None:
        run_dir = self.trainer.default_root_dir if self.trainer is not None else None
        if self.targets is not None and run_dir and self.trainer.is_global_zero:
            self.targets.save(Path(run_dir) / "ambient_targets.pt")
