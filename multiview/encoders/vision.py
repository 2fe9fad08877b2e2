"""Frame encoders: a small ResNet for low-resolution frames, or any torchvision ResNet.

Both map ``[B, 3, H, W]`` images in [0, 1] to ``[B, out_dim]`` and hand out their intermediate
layers through :meth:`features` (for probes and dissection). A torchvision architecture keeps
torchvision's parameter names, so its ``state_dict`` loads into ``torchvision.models.<arch>()``
(with ``fc`` left out).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torchvision

from multiview.core.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


class BasicBlock(nn.Module):
    """The two-convolution residual block of He et al. 2016 (Fig. 2)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """Stem + four stride-2 residual stages of width ``w, 2w, 4w, 8w`` + global average pool."""

    def __init__(self, in_channels: int = 3, width: int = 32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.stages = nn.ModuleList(
            BasicBlock(c_in, c_out, 2) for c_in, c_out in zip([width] + widths[:-1], widths))
        self.out_dim = widths[-1]

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"stem": self.stem(x)}
        h = out["stem"]
        for i, stage in enumerate(self.stages, 1):
            h = stage(h)
            out[f"stage{i}"] = h
        out["pool"] = h.mean((2, 3))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)["pool"]


class FrameEncoder(nn.Module):
    """Normalises [0, 1] frames and encodes them with ``arch`` ("small" or a torchvision ResNet).

    Args:
        arch: "small" (:class:`SmallResNet`) or a torchvision ResNet name ("resnet18", ...).
        width: channels of the small ResNet's first stage (ignored for torchvision ResNets).
        in_channels: input channels (3 for RGB, 1 for L, 2 for ab).
        normalize: subtract ImageNet's mean and divide by its std (RGB input only).
        small_images: for a torchvision ResNet, the stem used on 32 px images (SimCLR, Chen et al.
            2020, Appendix B.9): a 3x3 stride-1 first convolution and no max pool, so a 32 px
            image leaves a 4x4 map, not 1x1, after the last stage.
    """

    modality = "frame"

    def __init__(self, arch: str = "small", width: int = 32, in_channels: int = 3,
                 normalize: bool = True, small_images: bool = False):
        super().__init__()
        self.arch = arch
        if arch == "small":
            self.net = SmallResNet(in_channels, width)
            self.out_dim = self.net.out_dim
        elif arch in RESNETS:
            net = getattr(torchvision.models, arch)(weights=None)
            if small_images:
                net.conv1, net.maxpool = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), nn.Identity()
            elif in_channels != 3:
                net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
            self.out_dim = net.fc.in_features
            net.fc = nn.Identity()
            self.net = net
        else:
            raise UserError(f"arch: expected 'small' or a torchvision resnet name, got {arch!r}")
        use_norm = normalize and in_channels == 3
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) if use_norm else torch.zeros(1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) if use_norm else torch.ones(1))

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (x - self.mean) / self.std
        if isinstance(self.net, SmallResNet):
            return self.net.features(x)
        n, out = self.net, {}
        h = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        out["stem"] = h
        for i in range(1, 5):
            h = getattr(n, f"layer{i}")(h)
            out[f"stage{i}"] = h
        out["pool"] = h.mean((2, 3))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)["pool"]
