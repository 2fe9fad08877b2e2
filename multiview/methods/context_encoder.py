"""Context encoder: learning features by inpainting (Pathak et al., CVPR 2016).

A region of each image (a central square of half the side, or a square of that size at a random
place) is filled with the ImageNet mean colour; the frame encoder reads the rest, its deepest map
(``layer``) goes through a 1x1 channel mixer (standing in for the paper's channel-wise fully
connected layer) and an :class:`~multiview.methods.image_pretext.UpDecoder` paints the image,
scored only on the dropped region (Eq. 1, :mod:`multiview.objectives.context_encoder`). With
``adversarial_weight`` above 0 (the paper's 0.001) a discriminator also tells real images from
ones whose hole was painted (Eq. 2-3), trained in the same backward pass through a reversed
gradient; it sees the whole composite image (the paper's sees the painted region; a composite
lets random masks share one discriminator). At 0 the loss is the reconstruction alone, the "L2"
row of the paper's Table 2. The encoder sees masked images in training; probes read whole ones.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from multiview.encoders.registry import EncoderSpec, plain
from multiview.encoders.vision import IMAGENET_MEAN
from multiview.core.errors import UserError
from multiview.methods.image_pretext import ImagePretext, UpDecoder
from multiview.objectives.context_encoder import (
    MASKS,
    adversarial_loss,
    masked_input,
    masked_l2,
    region_masks,
    reverse_gradient,
)


def discriminator(width: int = 32) -> nn.Module:
    """Three stride-2 4x4 convolutions (DCGAN's pattern, as the paper's discriminator), pooled to one logit."""
    return nn.Sequential(
        nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * width), nn.LeakyReLU(0.2, inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 1))


class ContextEncoder(ImagePretext):
    """Encoder on the masked image -> channel mixer -> upsampling decoder, L2 on the hole.

    Args:
        encoder: the frame encoder, e.g. ``{name: small_resnet, width: 32}``.
        layer: the encoder map the decoder reads (``features()`` name).
        mask: "centre" (the paper's central region) or "random" (a square at a random place).
        mask_fraction: side of the dropped square as a fraction of the image's side.
        adversarial_weight: ``lambda_adv`` of Eq. 3 (the paper: 0.001); 0 trains without a discriminator.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    png_name = "inpainted.png"

    def __init__(self, encoder: EncoderSpec | None = None, layer: str = "stage4", mask: str = "centre",
                 mask_fraction: float = 0.5, adversarial_weight: float = 0.0, **kwargs):
        encoder = plain(encoder)
        super().__init__(encoder, layer, 3, **kwargs)
        self.save_hyperparameters()
        if mask not in MASKS:
            raise UserError(f"model.mask: expected one of {', '.join(MASKS)}, got {mask!r}")
        if not 0 < mask_fraction < 1:
            raise UserError(f"model.mask_fraction: expected a number in (0, 1), got {mask_fraction}")
        if not 0 <= adversarial_weight < 1:
            raise UserError(f"model.adversarial_weight: expected a number in [0, 1), got {adversarial_weight}")
        self.mask_kind, self.mask_fraction, self.adversarial_weight = mask, mask_fraction, adversarial_weight
        self.critic = discriminator() if adversarial_weight > 0 else None
        c = self.layer_channels
        self.mixer = nn.Sequential(nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.decoder = UpDecoder(c, 3, self.ups(), min_width=32)
        self.register_buffer("fill", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)

    def masks(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return region_masks(len(x), x.shape[-2], x.shape[-1], self.mask_kind, self.mask_fraction,
                            generator, x.device)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The image painted from ``x`` with the region ``mask`` dropped."""
        h = self.mixer(self.feature_map(masked_input(x, mask, self.fill)))
        return torch.sigmoid(self.decoder(h, x.shape[-2:]))

    def loss(self, batch: dict, generator: torch.Generator | None = None,
             adversarial: bool = True) -> tuple[torch.Tensor, dict]:
        """``(total, parts)``: Eq. 1 alone, or (with a discriminator and ``adversarial``) Eq. 3 with
        the discriminator's loss (Eq. 2) added."""
        x = self.images(batch)
        mask = self.masks(x, generator)
        painted = self(x, mask)
        rec = masked_l2(painted, x, mask)
        if self.critic is None or not adversarial:
            return rec, {"rec": rec}
        w = self.adversarial_weight
        fake = reverse_gradient(masked_input(x, mask, painted), w)
        adv = adversarial_loss(self.critic(x), self.critic(fake))
        return (1 - w) * rec + adv, {"rec": rec, "adv": adv}

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        total, parts = self.loss(batch)
        self.log_losses("train", total, parts, len(batch["index"]))
        return total

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        g = torch.Generator().manual_seed(batch_idx)
        _, parts = self.loss(batch, g, adversarial=False)  # held-out score: the reconstruction
        self.log("val/masked_mse", parts["rec"], prog_bar=True, batch_size=len(batch["index"]))

    def example_rows(self, images: torch.Tensor) -> list[torch.Tensor]:
        mask = self.masks(images, torch.Generator().manual_seed(0))
        painted = self(images, mask)
        return [masked_input(images, mask, self.fill), masked_input(images, mask, painted), images]
