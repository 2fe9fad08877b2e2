"""Split-brain autoencoder (Zhang, Isola, Efros, CVPR 2017): two half-networks, L -> ab and ab -> L.

The encoder is split by channel into two disjoint halves (:class:`SplitEncoder`): one sees the
image's lightness L and predicts its colour ab, the other sees ab and predicts L, each through
its own upsampling head to ``1 / out_stride`` of the input, as classification over bins
(:mod:`multiview.objectives.split_brain`). The representation is the two halves' maps
concatenated channel-wise at every layer, so ``features()``, probes and ``eval layers`` read it
as they read any frame encoder. Each half is the encoder spec at half its width (a spec of width
32 gives two halves of 16: the whole has the channels of one width-32 network); a torchvision
ResNet's widths are fixed, so there each half is a whole one. ``split_brain.png`` shows held-out
images: L, the colours predicted from L, the ground truth, ab, and the L predicted from ab. The
figures are ``loss`` (the sum) and its halves ``loss_l_to_ab`` and ``loss_ab_to_l``. Training
images may first be cropped and flipped (``augment``, :class:`~multiview.views.crops.TrainingCrops`).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec, as_spec, build, plain
from multiview.methods.base import OneEncoder
from multiview.methods.examples import write_at_fit_end
from multiview.methods.parts import UpDecoder, layer_map
from multiview.objectives.colorization import ab_bins, annealed_mean, lab_to_rgb, soft_encode
from multiview.objectives.split_brain import l_bin_centres, l_bin_index, split_brain_loss
from multiview.views.channels import normalized_lab, rgb_to_lab
from multiview.views.crops import TrainingCrops


class SplitEncoder(nn.Module):
    """Two frame encoders on RGB input: ``l_half`` reads the normalised L, ``ab_half`` the
    normalised ab; every ``features()`` map is the two halves' maps concatenated (L's first)."""

    modality = "frame"

    def __init__(self, l_half: nn.Module, ab_half: nn.Module):
        super().__init__()
        self.l_half, self.ab_half = l_half, ab_half
        self.out_dim = l_half.out_dim + ab_half.out_dim

    def halves(self, rgb: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        lab = normalized_lab(rgb)
        return self.l_half.features(lab[:, :1]), self.ab_half.features(lab[:, 1:])

    def features(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        l_maps, ab_maps = self.halves(rgb)
        return {name: torch.cat([h, ab_maps[name]], 1) for name, h in l_maps.items()}

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.features(rgb)["pool"]


class SplitBrain(OneEncoder):
    """L half -> ab-bin logits and ab half -> L-bin logits, per pixel, Zhang et al. 2017.

    Args:
        encoder: the whole encoder, e.g. ``{name: small_resnet, width: 32}``; each half gets half
            the width.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' picture).
        layer: the map of each half that its head reads (``features()`` name).
        out_stride: the predictions' resolution is the input's divided by this.
        grid: side of the ab bins.
        l_bins: equal bins of L on ``[0, 100]``.
        neighbours: ab bins each target is soft-encoded over.
        sigma: Gaussian width of the ab soft encoding, in ab units.
        temperature: T of the annealed mean that decodes the colours in the PNG.
        augment: crop and flip of the training images (:class:`~multiview.views.crops.TrainingCrops`
            fields, ``{}`` for its defaults); None: the images as they are.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    in_channels = 1  # the L half; the ab half is built beside it with 2

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", layer: str = "stage4",
                 out_stride: int = 4, grid: float = 10.0, l_bins: int = 50, neighbours: int = 5, sigma: float = 5.0,
                 temperature: float = 0.38, augment: dict | None = None, **kwargs):
        encoder = plain(encoder)
        whole = as_spec(encoder)
        if whole.width is None or whole.width < 2:
            raise UserError(f"model.encoder.width: expected at least 2 (two halves), got {whole.width}")
        half = {**(encoder or {}), "width": whole.width // 2}
        super().__init__(encoder=half, view=view, **kwargs)
        self.save_hyperparameters()
        if l_bins < 2 or out_stride < 1 or temperature <= 0:
            raise UserError(f"model.l_bins/out_stride/temperature: expected >= 2, >= 1, > 0; got {l_bins}, "
                            f"{out_stride}, {temperature}")
        try:
            ab_half = build(half, 2)
        except (ValueError, TypeError) as e:
            raise UserError(f"model.encoder: {e}") from None
        channels, n_up = layer_map(self.encoder, layer, self.in_channels, out_stride)
        self.layer = layer
        self.encoder = SplitEncoder(self.encoder, ab_half)
        self.register_buffer("bins", ab_bins(grid))
        self.ab_head = UpDecoder(channels, len(self.bins), n_up, min_width=64)
        self.l_head = UpDecoder(channels, l_bins, n_up, min_width=32)
        self.crops = TrainingCrops(augment)

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ab-bin logits [B, Q, h, w] from L, L-bin logits [B, l_bins, h, w] from ab)``."""
        size = tuple(max(1, s // self.hparams.out_stride) for s in rgb.shape[-2:])
        l_maps, ab_maps = self.encoder.halves(rgb)
        return self.ab_head(l_maps[self.layer], size), self.l_head(ab_maps[self.layer], size)

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        """``{"loss": L -> ab plus ab -> L, "loss_l_to_ab": ..., "loss_ab_to_l": ...}``, each half's
        classification loss (:func:`~multiview.objectives.split_brain.split_brain_loss`)."""
        x = self.crops(self, self.inputs(batch), batch_idx)
        ab_logits, l_logits = self(x)
        lab = F.adaptive_avg_pool2d(rgb_to_lab(x), ab_logits.shape[-2:])
        ab_target = soft_encode(lab[:, 1:], self.bins, self.hparams.neighbours, self.hparams.sigma)
        to_ab, to_l = split_brain_loss(ab_logits, ab_target, l_logits, l_bin_index(lab[:, :1], self.hparams.l_bins))
        return {"loss": to_ab + to_l, "loss_l_to_ab": to_ab.detach(), "loss_ab_to_l": to_l.detach()}

    def predict_channels(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(RGB from the true L and the predicted ab, the L predicted from ab as grey)``, full size."""
        ab_logits, l_logits = self(rgb)
        ab = F.interpolate(annealed_mean(ab_logits, self.bins, self.hparams.temperature), size=rgb.shape[-2:],
                           mode="bilinear", align_corners=False)
        lab = rgb_to_lab(rgb)
        coloured = lab_to_rgb(torch.cat([lab[:, :1], ab], 1))
        centres = l_bin_centres(self.hparams.l_bins).to(l_logits.device)
        lightness = torch.einsum("bkhw,k->bhw", torch.softmax(l_logits.float(), 1), centres)[:, None]
        lightness = F.interpolate(lightness, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
        return coloured, (lightness / 100).expand(-1, 3, -1, -1)

    def example_rows(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Rows of the PNG: L, the colours predicted from L, the ground truth, ab, the L predicted from ab."""
        lab = rgb_to_lab(images)
        coloured, lightness = self.predict_channels(images)
        ab_only = lab_to_rgb(torch.cat([torch.full_like(lab[:, :1], 50.0), lab[:, 1:]], 1))
        return [(lab[:, :1] / 100).expand(-1, 3, -1, -1), coloured, images, ab_only, lightness]

    def on_fit_end(self) -> None:
        write_at_fit_end(self, "split_brain.png", self.example_rows)
