"""An AlexNet-style frame encoder (Krizhevsky et al. 2012), the network Owens et al. 2016 trained.

Five plain convolutions (no residual connections) with max-pooling after the first, second and
fifth, widths ``w, 2w, 4w, 4w, 2w`` (AlexNet's 96-256-384-384-256 pattern, scaled), then global
average pooling. Kernels and strides are scaled down from AlexNet's 224-pixel input so the same
stack works on the 64-pixel frames of the quickstart; BatchNorm stands in for local response
normalisation. Same interface as :class:`multiview.encoders.vision.FrameEncoder`: ``[B, 3, H, W]``
in [0, 1] -> ``[B, out_dim]``, with ``features(x)`` handing out every layer.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from multiview.encoders.vision import IMAGENET_MEAN, IMAGENET_STD


def _conv(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class AlexNetEncoder(nn.Module):
    """conv1 (5x5/2) pool, conv2 (5x5) pool, conv3-5 (3x3) pool, global average pool.

    Args:
        width: channels of conv1 (the others are multiples of it).
        in_channels: input channels.
        normalize: ImageNet mean/std normalisation (RGB input only).
    """

    modality = "frame"

    def __init__(self, width: int = 32, in_channels: int = 3, normalize: bool = True):
        super().__init__()
        w = width
        self.conv1 = nn.Sequential(_conv(in_channels, w, 5, 2), nn.MaxPool2d(3, 2, 1))
        self.conv2 = nn.Sequential(_conv(w, 2 * w, 5), nn.MaxPool2d(3, 2, 1))
        self.conv3 = _conv(2 * w, 4 * w, 3)
        self.conv4 = _conv(4 * w, 4 * w, 3)
        self.conv5 = nn.Sequential(_conv(4 * w, 2 * w, 3), nn.MaxPool2d(3, 2, 1))
        self.out_dim = 2 * w
        use_norm = normalize and in_channels == 3
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) if use_norm else torch.zeros(1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) if use_norm else torch.ones(1))

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = (x - self.mean) / self.std
        out = {}
        for name in ("conv1", "conv2", "conv3", "conv4", "conv5"):
            h = getattr(self, name)(h)
            out[name] = h
        out["pool"] = h.mean((2, 3))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)["pool"]
