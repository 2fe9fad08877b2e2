"""Contrastive Multiview Coding with two views: a frame and the sound around it.

Tian, Krishnan, Isola, "Contrastive Multiview Coding", ECCV 2020: each view has its own encoder
and projection head; matching (frame, sound) pairs are pulled together and the other pairs in
the batch pushed apart with the symmetric in-batch InfoNCE of Eq. 2-3
(:func:`multiview.objectives.infonce.info_nce`). The frame/sound pairing follows audio-visual
correspondence (Owens & Efros 2018; Arandjelovic & Zisserman 2017).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
import torch.nn as nn

from multiview.encoders.audio import AudioEncoder
from multiview.encoders.vision import FrameEncoder
from multiview.eval.av_report import av_retrieval_report
from multiview.methods.base import Method
from multiview.objectives.infonce import info_nce


def projection_head(in_dim: int, out_dim: int) -> nn.Module:
    """The MLP head of SimCLR/CMC: Linear -> BN -> ReLU -> Linear."""
    return nn.Sequential(nn.Linear(in_dim, in_dim), nn.BatchNorm1d(in_dim), nn.ReLU(inplace=True),
                         nn.Linear(in_dim, out_dim))


class CMC(Method):
    """Frame encoder + audio encoder, each with a projection head, trained with InfoNCE."""

    def __init__(self, frame_arch: str = "small", frame_width: int = 32, audio_width: int = 32,
                 sample_rate: int = 16000, n_mels: int = 64, proj_dim: int = 128,
                 temperature: float = 0.1, lr: float = 2e-3, weight_decay: float = 1e-4,
                 optimizer: str = "adamw", warmup_fraction: float = 0.05):
        super().__init__(lr=lr, weight_decay=weight_decay, optimizer=optimizer,
                         warmup_fraction=warmup_fraction)
        self.save_hyperparameters()
        if temperature <= 0:
            raise ValueError(f"model.temperature: expected a positive number, got {temperature}")
        self.temperature = temperature
        self.frame_encoder = FrameEncoder(frame_arch, frame_width)
        self.audio_encoder = AudioEncoder(sample_rate, n_mels, audio_width)
        self.frame_head = projection_head(self.frame_encoder.out_dim, proj_dim)
        self.audio_head = projection_head(self.audio_encoder.out_dim, proj_dim)

    def embed(self, batch: dict) -> dict[str, torch.Tensor]:
        """Projected embeddings of both views: ``{"frame": [B, D], "audio": [B, D]}``."""
        frame = batch["frame"]
        if frame.is_cuda:
            frame = frame.contiguous(memory_format=torch.channels_last)
        return {"frame": self.frame_head(self.frame_encoder(frame)),
                "audio": self.audio_head(self.audio_encoder(batch["audio"]))}

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        z = self.embed(batch)
        loss = info_nce(z["frame"], z["audio"], self.temperature)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["frame"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        z = self.embed(batch)
        loss = info_nce(z["frame"], z["audio"], self.temperature)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch["frame"]))

    def final_report(self, trainer: L.Trainer, datamodule, run_dir: Path) -> dict[str, float]:
        return av_retrieval_report(self, self.random_init_copy(), datamodule.val_dataloader(), run_dir)
