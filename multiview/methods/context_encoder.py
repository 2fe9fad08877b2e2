"""Context encoder: learning features by inpainting (Pathak et al., CVPR 2016).

A region of each image (a central square of half the side, or a square of that size at a random
place) is filled with the ImageNet mean colour; the frame encoder reads the rest, its deepest map
(``layer``) goes through a 1x1 channel mixer (:class:`~multiview.methods.parts.ChannelMixer`,
standing in for the paper's channel-wise fully connected layer) and an
:class:`~multiview.methods.parts.UpDecoder` paints the image, scored only on the dropped region
(Eq. 1, :mod:`multiview.objectives.context_encoder`). With ``adversarial_weight`` above 0 (the
paper's 0.001) a discriminator (:class:`~multiview.methods.parts.PatchDiscriminator`) also tells
real images from ones whose hole was painted (Eq. 2-3), trained in the same backward pass through
a reversed gradient; it sees the whole composite image (the paper's sees the painted region; a
composite lets random masks share one discriminator). At 0 the loss is the reconstruction alone,
the "L2" row of the paper's Table 2. The figures are ``loss`` (Eq. 3, or Eq. 1 alone),
``masked_mse`` (Eq. 1) and, with a discriminator, ``loss_adv`` (Eq. 2); held-out batches get
masks seeded by their index. The encoder sees masked images in training; probes read whole ones.
``inpainted.png`` shows held-out images: masked input, painted, original.
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec, plain
from multiview.encoders.vision import IMAGENET_MEAN
from multiview.methods.base import OneEncoder
from multiview.methods.examples import write_at_fit_end
from multiview.methods.parts import ChannelMixer, PatchDiscriminator, UpDecoder, layer_map
from multiview.objectives.context_encoder import (
    MASKS,
    adversarial_loss,
    masked_input,
    masked_l2,
    region_masks,
    reverse_gradient,
)
from multiview.views.crops import TrainingCrops


class ContextEncoder(OneEncoder):
    """Encoder on the masked image -> channel mixer -> upsampling decoder, L2 on the hole.

    Args:
        encoder: the frame encoder, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' picture).
        layer: the encoder map the decoder reads (``features()`` name).
        mask: "centre" (the paper's central region) or "random" (a square at a random place).
        mask_fraction: side of the dropped square as a fraction of the image's side.
        adversarial_weight: ``lambda_adv`` of Eq. 3 (the paper: 0.001); 0 trains without a discriminator.
        augment: crop and flip of the training images (:class:`~multiview.views.crops.TrainingCrops`
            fields, ``{}`` for its defaults); None: the images as they are.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", layer: str = "stage4",
                 mask: str = "centre", mask_fraction: float = 0.5, adversarial_weight: float = 0.0,
                 augment: dict | None = None, **kwargs):
        encoder = plain(encoder)
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if mask not in MASKS:
            raise UserError(f"model.mask: expected one of {', '.join(MASKS)}, got {mask!r}")
        if not 0 < mask_fraction < 1:
            raise UserError(f"model.mask_fraction: expected a number in (0, 1), got {mask_fraction}")
        if not 0 <= adversarial_weight < 1:
            raise UserError(f"model.adversarial_weight: expected a number in [0, 1), got {adversarial_weight}")
        self.mask_kind, self.mask_fraction, self.adversarial_weight = mask, mask_fraction, adversarial_weight
        self.layer = layer
        self.critic = PatchDiscriminator() if adversarial_weight > 0 else None
        channels, n_up = layer_map(self.encoder, layer)
        self.mixer = ChannelMixer(channels)
        self.decoder = UpDecoder(channels, 3, n_up, min_width=32)
        self.register_buffer("fill", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.crops = TrainingCrops(augment)

    def masks(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return region_masks(len(x), x.shape[-2], x.shape[-1], self.mask_kind, self.mask_fraction,
                            generator, x.device)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The image painted from ``x`` with the region ``mask`` dropped."""
        h = self.mixer(self.encoder.features(masked_input(x, mask, self.fill))[self.layer])
        return torch.sigmoid(self.decoder(h, x.shape[-2:]))

    def losses(self, batch: dict, batch_idx: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """``{"loss": Eq. 3 (Eq. 1 without a discriminator), "masked_mse": Eq. 1, "loss_adv": Eq. 2}``;
        held-out batches draw their masks from a generator seeded by ``batch_idx``."""
        if generator is None and not self.training:
            generator = torch.Generator().manual_seed(batch_idx)
        x = self.crops(self, self.inputs(batch), batch_idx)
        mask = self.masks(x, generator)
        painted = self(x, mask)
        rec = masked_l2(painted, x, mask)
        if self.critic is None:
            return {"loss": rec, "masked_mse": rec.detach()}
        w = self.adversarial_weight
        fake = reverse_gradient(masked_input(x, mask, painted), w)
        adv = adversarial_loss(self.critic(x), self.critic(fake))
        return {"loss": (1 - w) * rec + adv, "masked_mse": rec.detach(), "loss_adv": adv.detach()}

    def example_rows(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Rows of the PNG: masked input, painted, original."""
        mask = self.masks(images, torch.Generator().manual_seed(0))
        painted = self(images, mask)
        return [masked_input(images, mask, self.fill), masked_input(images, mask, painted), images]

    def on_fit_end(self) -> None:
        write_at_fit_end(self, "inpainted.png", self.example_rows)
