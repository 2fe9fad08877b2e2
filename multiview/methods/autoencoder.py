"""Autoencoder (Hinton & Salakhutdinov 2006) and denoising autoencoder (Vincent et al. 2008).

The frame encoder's deepest map (``layer``, 1/16 of the input for small_resnet) is squeezed by a
1x1 convolution to ``code_channels`` channels: the bottleneck code (64 numbers for a 32px image
at the default 16 channels). An :class:`~multiview.methods.image_pretext.UpDecoder` maps the
code back to the image, trained with the squared error of
:mod:`multiview.objectives.autoencoder`. ``noise`` "mask" or "gaussian" corrupts the input first
(the denoising autoencoder); "none" is the plain autoencoder. ``target`` "whitened" measures the
error after a ZCA filter fitted on the first training batch's patches (kept in the checkpoint),
so edges weigh as much as smooth colour. Probes read the encoder.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from multiview.encoders.registry import EncoderSpec, plain
from multiview.core.errors import UserError
from multiview.methods.image_pretext import ImagePretext, UpDecoder
from multiview.objectives.autoencoder import NOISES, corrupt, reconstruction_loss, whitened_loss, zca_kernel

TARGETS = ("pixels", "whitened")


class Autoencoder(ImagePretext):
    """Encoder -> 1x1 bottleneck -> upsampling decoder, squared reconstruction error.

    Args:
        encoder: the frame encoder, e.g. ``{name: small_resnet, width: 32}``.
        layer: the encoder map the code is taken from (``features()`` name).
        code_channels: channels of the bottleneck code (its size is this times the map's area).
        noise: "none" (autoencoder), "mask" (masking noise) or "gaussian" (denoising autoencoder).
        noise_level: fraction of components masked, or the Gaussian noise's standard deviation.
        target: "pixels" (squared error of the image) or "whitened" (of its ZCA-whitened form).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    png_name = "reconstructions.png"

    def __init__(self, encoder: EncoderSpec | None = None, layer: str = "stage4", code_channels: int = 16,
                 noise: str = "none", noise_level: float = 0.25, target: str = "pixels", **kwargs):
        encoder = plain(encoder)
        super().__init__(encoder, layer, 3, **kwargs)
        self.save_hyperparameters()
        if noise not in NOISES:
            raise UserError(f"model.noise: expected one of {', '.join(NOISES)}, got {noise!r}")
        if not 0 <= noise_level <= (1 if noise == "mask" else float("inf")) or code_channels < 1:
            raise UserError(f"model.noise_level/code_channels: got {noise_level}, {code_channels}")
        if target not in TARGETS:
            raise UserError(f"model.target: expected one of {', '.join(TARGETS)}, got {target!r}")
        self.noise, self.noise_level, self.target = noise, noise_level, target
        if target == "whitened":
            self.register_buffer("whitening", torch.zeros(3, 3, 5, 5))
        self.code = nn.Sequential(nn.Conv2d(self.layer_channels, code_channels, 1), nn.BatchNorm2d(code_channels))
        self.decoder = UpDecoder(code_channels, 3, self.ups(), min_width=32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x`` (logits of the [0, 1] image through a sigmoid)."""
        return torch.sigmoid(self.decoder(self.code(self.feature_map(x)), x.shape[-2:]))

    def loss(self, batch: dict) -> torch.Tensor:
        x = self.images(batch)
        noisy = corrupt(x, self.noise, self.noise_level) if self.training else x
        if self.target == "pixels":
            return reconstruction_loss(self(noisy), x)
        if not self.whitening.any():
            self.whitening.copy_(zca_kernel(x.detach()))
        return whitened_loss(self(noisy), x, self.whitening)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["index"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.log("val/mse", self.loss(batch), prog_bar=True, batch_size=len(batch["index"]))

    def example_rows(self, images: torch.Tensor) -> list[torch.Tensor]:
        g = torch.Generator(device=images.device).manual_seed(0)
        noisy = corrupt(images, self.noise, self.noise_level, g)
        return [noisy, self(noisy), images] if self.noise != "none" else [images, self(images)]
