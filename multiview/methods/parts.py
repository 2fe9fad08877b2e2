"""The named parts methods are built from: heads, decoders and momentum (EMA) pairs.

Each head is an ``nn.Sequential`` (or a small module) whose docstring quotes the paper it comes
from, as lightly's ``SimCLRProjectionHead`` does; a method composes them instead of writing its
own. Momentum teachers are frozen copies updated by :func:`ema_` on the schedule of
:func:`cosine_momentum`. The image-to-image pretexts (autoencoder, context encoder, colorization,
split-brain) read an encoder's ``layer`` map (:func:`layer_map`) through an :class:`UpDecoder`.
Augmentation is not a part: it lives in :mod:`multiview.views`.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from multiview.core.errors import UserError
from multiview.encoders.registry import feature_shapes


class MLPHead(nn.Sequential):
    """``layers - 1`` times Linear -> BatchNorm -> ReLU, then Linear (then BatchNorm without affine
    when ``last_bn``). Hidden Linear layers have no bias unless ``hidden_bias`` (BatchNorm follows)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 2, last_bn: bool = False,
                 hidden_bias: bool = False):
        mods, d = [], in_dim
        for _ in range(layers - 1):
            mods += [nn.Linear(d, hidden, bias=hidden_bias), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
            d = hidden
        mods.append(nn.Linear(d, out_dim, bias=not last_bn))
        if last_bn:
            mods.append(nn.BatchNorm1d(out_dim, affine=False))
        super().__init__(*mods)


class SimCLRProjectionHead(MLPHead):
    """SimCLR's projection head (Chen et al. 2020, Sec. 2.1): "a MLP with one hidden layer to obtain
    z_i = g(h_i) = W(2) sigma(W(1) h_i) where sigma is a ReLU non-linearity"; BatchNorm after the
    hidden layer, as in the paper's code. Also MoCo v2's head (Chen et al. 2020b) and CMC's."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int = 128, hidden_bias: bool = False):
        super().__init__(in_dim, hidden, out_dim, layers=2, hidden_bias=hidden_bias)


class BYOLHead(MLPHead):
    """BYOL's projector and predictor (Grill et al. 2020, Sec. 3.3): "a multi-layer perceptron (MLP)
    consisting in a linear layer with output size 4096 followed by batch normalization, rectified
    linear units (ReLU), and a final linear layer with output dimension 256"."""

    def __init__(self, in_dim: int, hidden: int = 4096, out_dim: int = 256):
        super().__init__(in_dim, hidden, out_dim, layers=2)


class SimSiamProjectionHead(MLPHead):
    """SimSiam's projector (Chen & He 2021, Sec. 4.4): "The projection MLP has BN applied to each
    fully-connected (fc) layer, including its output fc. Its output fc has no ReLU ... This MLP
    has 3 layers"."""

    def __init__(self, in_dim: int, hidden: int = 2048, out_dim: int = 2048):
        super().__init__(in_dim, hidden, out_dim, layers=3, last_bn=True)


class SimSiamPredictionHead(MLPHead):
    """SimSiam's predictor (Chen & He 2021, Sec. 4.4): "The prediction MLP has BN applied to its
    hidden fc layers. Its output fc does not have BN or ReLU. This MLP has 2 layers" with a
    bottleneck: "the dimension of h's hidden layer is 512", a quarter of the output."""

    def __init__(self, in_dim: int = 2048, hidden: int = 512, out_dim: int = 2048):
        super().__init__(in_dim, hidden, out_dim, layers=2)


class ExpanderHead(MLPHead):
    """The expander of VICReg (Bardes, Ponce, LeCun 2022, Sec. 4.2: "The expander h_phi is
    composed of two fully-connected layers with batch normalization and ReLU, and a third linear
    layer") and the projector of Barlow Twins (Zbontar et al. 2021, Sec. 3: "three linear layers,
    each with 8192 output units. The first two layers of the projector are followed by a batch
    normalization layer and rectified linear units")."""

    def __init__(self, in_dim: int, hidden: int = 8192, out_dim: int = 8192):
        super().__init__(in_dim, hidden, out_dim, layers=3)


class ClassifierHead(nn.Sequential):
    """The classifier of the pretext tasks (rotation, Gidaris et al. 2018; jigsaw, Noroozi & Favaro
    2016; relative position, Doersch et al. 2015; temporal order, Misra et al. 2016): fully
    connected layers on the tower's features, here Linear -> BatchNorm -> ReLU -> Linear, or one
    Linear layer when ``hidden`` is 0."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        if hidden <= 0:
            super().__init__(nn.Linear(in_dim, out_dim))
        else:
            super().__init__(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                             nn.Linear(hidden, out_dim))


class DINOHead(nn.Module):
    """DINO's projection head (Caron et al. 2021, Sec. 3.1 and Appendix): "a 3-layer multi-layer
    perceptron (MLP) with hidden dimension 2048 followed by l2 normalization and a weight
    normalized fully connected layer with K dimensions" (GELU activations, a bottleneck before the
    normalisation)."""

    def __init__(self, in_dim: int, out_dim: int = 1024, hidden: int = 512, bottleneck: int = 128):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, bottleneck))
        self.last = nn.Linear(bottleneck, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(self.mlp(x), dim=-1), F.normalize(self.last.weight, dim=-1))


class PairwiseHead(nn.Module):
    """The order prediction network's head (Lee et al., "Unsupervised Representation Learning by
    Sorting Sequences", ICCV 2017, Sec. 3.3, "pairwise feature extraction"): each pair of a tuple's
    codes, (1, 2), (2, 3) and (1, 3), through one shared Linear -> ReLU layer of ``hidden`` units,
    the pair embeddings concatenated through a linear classifier. ``[B, 3, D]`` -> ``[B, n_classes]``."""

    PAIRS = ((0, 1), (1, 2), (0, 2))

    def __init__(self, code_dim: int, hidden: int, n_classes: int):
        super().__init__()
        self.pair = nn.Sequential(nn.Linear(2 * code_dim, hidden), nn.ReLU(inplace=True))
        self.out = nn.Linear(len(self.PAIRS) * hidden, n_classes)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        pairs = [self.pair(torch.cat([codes[:, i], codes[:, j]], 1)) for i, j in self.PAIRS]
        return self.out(torch.cat(pairs, 1))


class UpDecoder(nn.Module):
    """The up-convolutional decoder of the context encoder (Pathak et al. 2016, Sec. 3.1: "a
    series of five up-convolutional layers ... each with a rectified linear unit (ReLU) activation
    function. A up-convolutional is simply an upsampling followed by a convolution"), also the
    colorization and split-brain heads: ``n_up`` doublings (nearest upsampling, 3x3 conv,
    BatchNorm, ReLU; channels halved down to ``min_width``), then a 3x3 convolution to
    ``out_channels``; resized to ``size`` when given."""

    def __init__(self, in_channels: int, out_channels: int, n_up: int, min_width: int = 32):
        super().__init__()
        layers, c = [], in_channels
        for _ in range(n_up):
            nxt = max(min_width, c // 2)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, nxt, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(nxt), nn.ReLU(inplace=True)]
            c = nxt
        layers.append(nn.Conv2d(c, out_channels, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        y = self.net(h)
        if size is not None and tuple(y.shape[-2:]) != tuple(size):
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return y


class CodeBottleneck(nn.Sequential):
    """The autoencoder's code (Hinton & Salakhutdinov 2006: "a multilayer 'encoder' network to
    transform the high-dimensional data into a low-dimensional code and a similar 'decoder'
    network to recover the data from the code"): a 1x1 convolution of the encoder's map down to
    ``code_channels``, then BatchNorm."""

    def __init__(self, in_channels: int, code_channels: int):
        super().__init__(nn.Conv2d(in_channels, code_channels, 1), nn.BatchNorm2d(code_channels))


class ChannelMixer(nn.Sequential):
    """Stands in for the context encoder's channel-wise fully connected layer (Pathak et al. 2016,
    Sec. 3.1: it "propagate[s] information within activations of each feature map" between
    encoder and decoder): a 1x1 convolution mixing channels, BatchNorm and ReLU."""

    def __init__(self, channels: int):
        super().__init__(nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


class PatchDiscriminator(nn.Sequential):
    """The context encoder's adversarial discriminator (Pathak et al. 2016, Sec. 3.2, after DCGAN,
    Radford et al. 2016: strided convolutions, "LeakyReLU activation in the discriminator"):
    three stride-2 4x4 convolutions, BatchNorm on the last two, pooled to one logit."""

    def __init__(self, width: int = 32, in_channels: int = 3):
        super().__init__(
            nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 1))


def layer_map(encoder: nn.Module, layer: str, in_channels: int = 3, out_stride: float = 1.0) -> tuple[int, int]:
    """``(channels, doublings)`` of a frame encoder's ``features()`` map ``layer``: its channel
    count and the upsampling doublings (:class:`UpDecoder`'s ``n_up``) that take it back to
    ``1 / out_stride`` of the input size.
    One line naming ``model.layer`` (or ``model.encoder``) when it is not a spatial map."""
    if getattr(encoder, "modality", "frame") != "frame":
        raise UserError(f"model.encoder: expected a frame encoder, got a {encoder.modality} one")
    side = 64
    maps = feature_shapes(encoder, in_channels, side)
    if layer not in maps or layer == "pool" or len(maps[layer]) != 4:
        spatial = [k for k, v in maps.items() if len(v) == 4]
        raise UserError(f"model.layer: expected one of {', '.join(spatial)}, got {layer!r}")
    return maps[layer][1], max(0, round(math.log2(side / maps[layer][-1] / out_stride)))


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` without gradients: a momentum teacher or key encoder."""
    twin = copy.deepcopy(module)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


@torch.no_grad()
def ema_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """The momentum update of MoCo (He et al. 2020, Eq. 2), BYOL (Grill et al. 2020, Sec. 3.1) and
    DINO (Caron et al. 2021, Sec. 3.1): ``target <- m target + (1 - m) online`` for parameters
    only. The target keeps its own buffers: its BatchNorm running statistics follow from its own
    forward passes, as in the papers' code and lightly's ``update_momentum``."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(momentum).add_(o.detach(), alpha=1 - momentum)


def cosine_momentum(base: float, step: int, total: int) -> float:
    """BYOL's target momentum (Grill et al. 2020, Sec. 3.2): ``1 - (1 - base) (cos(pi k / K) + 1) / 2``
    at step ``k`` of ``K``, from ``base`` up to 1."""
    return 1 - (1 - base) * (math.cos(math.pi * min(1.0, step / max(1, total))) + 1) / 2
