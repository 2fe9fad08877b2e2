"""Colorization as a pretext (Zhang, Isola, Efros, "Colorful Image Colorization", ECCV 2016).

The encoder sees only the lightness L of each image (one channel, :class:`LightnessEncoder`
computes it from the RGB batch, so the same encoder reads CIFAR's "image" and video's "frame");
its deepest map (``layer``) is upsampled by an :class:`~multiview.methods.parts.UpDecoder`
to ``1 / out_stride`` of the input (1/4 as in the paper), where it predicts, per pixel, a
distribution over the in-gamut ab bins. Targets are soft-encoded, the loss rebalanced by the
data's own smoothed ab prior (estimated from ``prior_batches`` training batches when fitting
starts; kept in the checkpoint as a buffer), and colours decoded by the annealed mean
(:mod:`multiview.objectives.colorization`). ``loss="regression"`` is the plain L2 on ab instead.
``colorized.png`` shows held-out images: L, prediction, ground truth. Training images may first
be cropped and flipped (``augment``, :class:`~multiview.views.crops.TrainingCrops`).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec, plain
from multiview.methods.base import OneEncoder
from multiview.methods.examples import write_at_fit_end
from multiview.methods.parts import UpDecoder, layer_map
from multiview.objectives.colorization import (
    ab_bins,
    ab_prior,
    annealed_mean,
    bin_counts,
    colorization_loss,
    lab_to_rgb,
    rebalance_weights,
    soft_encode,
)
from multiview.views.channels import LAB_MEAN, LAB_STD, rgb_to_lab
from multiview.views.crops import TrainingCrops

AB_SCALE = 110.0  # regression targets: ab / AB_SCALE lies in about [-1, 1]


class LightnessEncoder(nn.Module):
    """A one-channel encoder fed the normalised L of RGB input: the frame-encoder contract on RGB."""

    modality = "frame"

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.out_dim = inner.out_dim

    def features(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.inner.features((rgb_to_lab(rgb)[:, :1] - LAB_MEAN[0]) / LAB_STD[0])

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.features(rgb)["pool"]


class Colorization(OneEncoder):
    """L encoder -> upsampling head -> per-pixel ab-bin logits (or ab), Zhang et al. 2016.

    Args:
        encoder: the encoder of the L channel, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' picture).
        layer: the encoder map the head reads (``features()`` name).
        out_stride: the prediction's resolution is the input's divided by this (4 in the paper).
        loss: "classification" (soft-encoded bins, rebalanced) or "regression" (L2 on ab).
        grid: side of the ab bins.
        neighbours: bins each target is soft-encoded over.
        sigma: Gaussian width of the soft encoding and of the prior's smoothing, in ab units.
        rebalance_lambda: lambda of Eq. 4, mixing the prior with the uniform (1: no rebalancing).
        temperature: T of the annealed mean, Eq. 5.
        prior_batches: training batches the ab prior is estimated from when fitting starts.
        augment: crop and flip of the training images (:class:`~multiview.views.crops.TrainingCrops`
            fields, ``{}`` for its defaults); None: the images as they are.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    in_channels = 1  # the encoder reads L

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", layer: str = "stage4",
                 out_stride: int = 4, loss: str = "classification", grid: float = 10.0, neighbours: int = 5,
                 sigma: float = 5.0, rebalance_lambda: float = 0.5, temperature: float = 0.38,
                 prior_batches: int = 50, augment: dict | None = None, **kwargs):
        encoder = plain(encoder)
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if loss not in ("classification", "regression"):
            raise UserError(f"model.loss: expected 'classification' or 'regression', got {loss!r}")
        if temperature <= 0 or not 0 <= rebalance_lambda <= 1 or out_stride < 1:
            raise UserError(f"model.temperature/rebalance_lambda/out_stride: got {temperature}, "
                            f"{rebalance_lambda}, {out_stride}")
        channels, n_up = layer_map(self.encoder, layer, self.in_channels, out_stride)
        self.layer = layer
        self.encoder = LightnessEncoder(self.encoder)
        self.register_buffer("bins", ab_bins(grid))
        q = len(self.bins)
        self.register_buffer("prior", torch.full((q,), 1.0 / q))
        self.register_buffer("prior_fitted", torch.zeros((), dtype=torch.bool))
        self.head = UpDecoder(channels, q if loss == "classification" else 2, n_up, min_width=64)
        self.crops = TrainingCrops(augment)

    # --- the ab prior ---------------------------------------------------------------------
    def target_ab(self, rgb: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``[B, 2, h, w]`` ab of ``rgb``, averaged down to the prediction's size."""
        return F.adaptive_avg_pool2d(rgb_to_lab(rgb)[:, 1:], size)

    @torch.no_grad()
    def fit_prior(self, loader) -> None:
        counts = torch.zeros(len(self.bins), device=self.bins.device)
        for i, batch in enumerate(loader):
            if i >= self.hparams.prior_batches:
                break
            x = self.inputs(batch).to(self.bins.device)
            size = tuple(max(1, s // self.hparams.out_stride) for s in x.shape[-2:])
            counts += bin_counts(self.target_ab(x, size), self.bins)
        if counts.sum() == 0:
            raise UserError("colorization: no training images to estimate the ab prior from")
        self.prior.copy_(ab_prior(counts, self.bins, self.hparams.sigma))
        self.prior_fitted.fill_(True)

    def on_fit_start(self) -> None:
        if self.hparams.loss != "classification" or bool(self.prior_fitted):
            return
        dm = self.trainer.datamodule
        if dm is None or getattr(dm, "train_set", None) is None:
            raise UserError("colorization: the ab prior needs a datamodule with a train_set")
        self.fit_prior(DataLoader(dm.train_set, batch_size=dm.batch_size, shuffle=True,
                                  num_workers=getattr(dm, "num_workers", 0),
                                  generator=torch.Generator().manual_seed(0)))

    # --- training -------------------------------------------------------------------------
    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """Bin logits ``[B, Q, h, w]`` (or ab / AB_SCALE ``[B, 2, h, w]``) from the L of ``rgb``."""
        size = tuple(max(1, s // self.hparams.out_stride) for s in rgb.shape[-2:])
        return self.head(self.encoder.features(rgb)[self.layer], size)

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        """``{"loss": Eq. 2 (rebalanced cross-entropy over the ab bins), or the L2 on ab}``."""
        x = self.crops(self, self.inputs(batch), batch_idx)
        out = self(x)
        ab = self.target_ab(x, out.shape[-2:])
        if self.hparams.loss == "regression":
            return {"loss": F.mse_loss(out.float(), ab / AB_SCALE)}
        weights = rebalance_weights(self.prior, self.hparams.rebalance_lambda)
        target = soft_encode(ab, self.bins, self.hparams.neighbours, self.hparams.sigma)
        return {"loss": colorization_loss(out, target, weights)}

    def colorize(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB from the L of ``rgb`` and the predicted ab (annealed mean), upsampled to full size."""
        out = self(rgb)
        if self.hparams.loss == "regression":
            ab = out.float() * AB_SCALE
        else:
            ab = annealed_mean(out, self.bins, self.hparams.temperature)
        ab = F.interpolate(ab, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
        return lab_to_rgb(torch.cat([rgb_to_lab(rgb)[:, :1], ab], 1))

    def example_rows(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Rows of the PNG: L, the colours predicted from it, the ground truth."""
        gray = (rgb_to_lab(images)[:, :1] / 100).expand(-1, 3, -1, -1)
        return [gray, self.colorize(images), images]

    def on_fit_end(self) -> None:
        write_at_fit_end(self, "colorized.png", self.example_rows)
