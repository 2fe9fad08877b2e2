"""The named parts methods are built from: heads and momentum (EMA) pairs.

Each head is an ``nn.Sequential`` (or a small module) whose docstring quotes the paper it comes
from, as lightly's ``SimCLRProjectionHead`` does; a method composes them instead of writing its
own. Momentum teachers are frozen copies updated by :func:`ema_` on the schedule of
:func:`cosine_momentum`.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


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


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` without gradients: a momentum teacher or key encoder."""
    twin = copy.deepcopy(module)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


@torch.no_grad()
def ema_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """The momentum update of MoCo (He et al. 2020, Eq. 2), BYOL (Grill et al. 2020, Sec. 3.1) and
    DINO (Caron et al. 2021, Sec. 3.1): ``target <- m target + (1 - m) online`` for parameters;
    buffers (BatchNorm statistics) copied from the online network."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(momentum).add_(o.detach(), alpha=1 - momentum)
    for t, o in zip(target.buffers(), online.buffers()):
        t.copy_(o)


def cosine_momentum(base: float, step: int, total: int) -> float:
    """BYOL's target momentum (Grill et al. 2020, Sec. 3.2): ``1 - (1 - base) (cos(pi k / K) + 1) / 2``
    at step ``k`` of ``K``, from ``base`` up to 1."""
    return 1 - (1 - base) * (math.cos(math.pi * min(1.0, step / max(1, total))) + 1) / 2
