"""Context-encoder objectives: region masks and the masked reconstruction loss.

Pathak, Krahenbuhl, Donahue, Darrell, Efros, "Context Encoders: Feature Learning by Inpainting",
CVPR 2016, Sec. 3.2. With a binary mask ``M`` (1 where the image is dropped) and the network
``F``, the reconstruction loss is Eq. 1,

    L_rec(x) = || M * (x - F((1 - M) * x)) ||_2^2,

here averaged over the masked components. The adversarial term (Eq. 2) is a discriminator's
game, ``min_F max_D E[log D(x) + log(1 - D(F((1 - M) * x)))]``, and the joint loss (Eq. 3) is
``lambda_rec L_rec + lambda_adv L_adv`` with ``lambda_adv = 0.001``. :func:`adversarial_loss` is
the discriminator's binary cross-entropy; :func:`reverse_gradient` in front of the fakes makes
one backward pass train both players: the discriminator descends on its loss, the painter ascends
on it (``lambda_adv`` times), i.e. descends on ``log(1 - D(F(...)))`` as in Eq. 2. The paper's masks
(Sec. 3.3) are a central square
(a quarter of the area) or random regions; :func:`region_masks` gives the central square or one
square of the same area at a random place in each image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MASKS = ("centre", "random")


def region_masks(n: int, height: int, width: int, mask: str = "centre", fraction: float = 0.5,
                 generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """``[n, 1, H, W]`` float masks, 1 on a square of side ``fraction`` of each dimension: in the
    centre ("centre"), or at a uniformly random place in each image ("random")."""
    if mask not in MASKS:
        raise ValueError(f"mask: expected one of {', '.join(MASKS)}, got {mask!r}")
    h, w = max(1, round(fraction * height)), max(1, round(fraction * width))
    if mask == "centre":
        top = torch.full((n,), (height - h) // 2, device=device)
        left = torch.full((n,), (width - w) // 2, device=device)
    else:
        top = torch.randint(0, height - h + 1, (n,), generator=generator).to(device)
        left = torch.randint(0, width - w + 1, (n,), generator=generator).to(device)
    rows = torch.arange(height, device=device).view(1, height, 1)
    cols = torch.arange(width, device=device).view(1, 1, width)
    inside = ((rows >= top.view(n, 1, 1)) & (rows < (top + h).view(n, 1, 1))
              & (cols >= left.view(n, 1, 1)) & (cols < (left + w).view(n, 1, 1)))
    return inside.unsqueeze(1).float()


def masked_input(x: torch.Tensor, mask: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """``(1 - M) * x + M * fill``: the dropped region set to ``fill`` (per channel, ``[1, C, 1, 1]``)."""
    return x * (1 - mask) + fill * mask


def masked_l2(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 1: squared error on the masked components, divided by their number."""
    diff = (prediction.float() - target.float()) * mask
    count = mask.expand_as(diff).sum().clamp_min(1)
    return diff.pow(2).sum() / count


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` unchanged forward; backward, its gradient times ``-scale`` (Ganin & Lempitsky 2015)."""
    return _Reverse.apply(x, scale)


def adversarial_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 2 as the discriminator's loss: ``-mean(log D(x)) - mean(log(1 - D(fake)))``, on logits."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
