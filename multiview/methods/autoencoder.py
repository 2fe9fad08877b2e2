"""Autoencoder (Hinton & Salakhutdinov 2006) and denoising autoencoder (Vincent et al. 2008).

The frame encoder's deepest map (``layer``, 1/16 of the input for small_resnet) is squeezed by a
1x1 convolution to ``code_channels`` channels (:class:`~multiview.methods.parts.CodeBottleneck`):
the bottleneck code (64 numbers for a 32px image at the default 16 channels). An
:class:`~multiview.methods.parts.UpDecoder` maps the code back to the image, trained with the
squared error of :mod:`multiview.objectives.autoencoder`. ``noise`` "mask" or "gaussian" corrupts
the input first (the denoising autoencoder); "none" is the plain autoencoder. ``target``
"whitened" measures the error after a ZCA filter fitted on the first training batch's patches
(kept in the checkpoint), so edges weigh as much as smooth colour. The figures are ``loss`` (the
error trained on) and ``mse`` (the squared error of the pixels). Probes read the encoder;
``reconstructions.png`` shows held-out images (corrupted input, reconstruction, original).
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec, plain
from multiview.methods.base import OneEncoder
from multiview.methods.examples import write_at_fit_end
from multiview.methods.parts import CodeBottleneck, UpDecoder, layer_map
from multiview.objectives.autoencoder import NOISES, corrupt, reconstruction_loss, whitened_loss, zca_kernel
from multiview.views.crops import TrainingCrops

TARGETS = ("pixels", "whitened")


class Autoencoder(OneEncoder):
    """Encoder -> 1x1 bottleneck -> upsampling decoder, squared reconstruction error.

    Args:
        encoder: the frame encoder, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' picture).
        layer: the encoder map the code is taken from (``features()`` name).
        code_channels: channels of the bottleneck code (its size is this times the map's area).
        noise: "none" (autoencoder), "mask" (masking noise) or "gaussian" (denoising autoencoder).
        noise_level: fraction of components masked, or the Gaussian noise's standard deviation.
        target: "pixels" (squared error of the image) or "whitened" (of its ZCA-whitened form).
        augment: crop and flip of the training images (:class:`~multiview.views.crops.TrainingCrops`
            fields, ``{}`` for its defaults); None: the images as they are.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", layer: str = "stage4",
                 code_channels: int = 16, noise: str = "none", noise_level: float = 0.25, target: str = "pixels",
                 augment: dict | None = None, **kwargs):
        encoder = plain(encoder)
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if noise not in NOISES:
            raise UserError(f"model.noise: expected one of {', '.join(NOISES)}, got {noise!r}")
        if not 0 <= noise_level <= (1 if noise == "mask" else float("inf")) or code_channels < 1:
            raise UserError(f"model.noise_level/code_channels: got {noise_level}, {code_channels}")
        if target not in TARGETS:
            raise UserError(f"model.target: expected one of {', '.join(TARGETS)}, got {target!r}")
        self.noise, self.noise_level, self.target, self.layer = noise, noise_level, target, layer
        if target == "whitened":
            self.register_buffer("whitening", torch.zeros(3, 3, 5, 5))
        channels, n_up = layer_map(self.encoder, layer)
        self.code = CodeBottleneck(channels, code_channels)
        self.decoder = UpDecoder(code_channels, 3, n_up, min_width=32)
        self.crops = TrainingCrops(augment)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x`` (logits of the [0, 1] image through a sigmoid)."""
        return torch.sigmoid(self.decoder(self.code(self.encoder.features(x)[self.layer]), x.shape[-2:]))

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        x = self.crops(self, self.inputs(batch), batch_idx)
        out = self(corrupt(x, self.noise, self.noise_level) if self.training else x)
        mse = reconstruction_loss(out, x)
        if self.target == "pixels":
            return {"loss": mse, "mse": mse.detach()}
        if not self.whitening.any():
            self.whitening.copy_(zca_kernel(x.detach()))
        return {"loss": whitened_loss(out, x, self.whitening), "mse": mse.detach()}

    def example_rows(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Rows of the PNG: (corrupted input,) reconstruction, original."""
        g = torch.Generator(device=images.device).manual_seed(0)
        noisy = corrupt(images, self.noise, self.noise_level, g)
        return [noisy, self(noisy), images] if self.noise != "none" else [images, self(images)]

    def on_fit_end(self) -> None:
        write_at_fit_end(self, "reconstructions.png", self.example_rows)
