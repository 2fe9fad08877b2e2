"""The colour views of Tian et al. 2020 (Sec. 4.1): ``L`` (lightness) and ``ab`` (colour) of the
CIE L*a*b* conversion, computed in torch on the batch (on the GPU where there is one)."""

from __future__ import annotations

import torch

# D65 white point; sRGB -> XYZ matrix (IEC 61966-2-1).
_RGB_TO_XYZ = torch.tensor([[0.412453, 0.357580, 0.180423],
                            [0.212671, 0.715160, 0.072169],
                            [0.019334, 0.119193, 0.950227]])
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])
# Per-channel centre and half-range of L*a*b* over the sRGB gamut, as in the CMC release.
LAB_MEAN = (50.0, 6.025, -6.6895)
LAB_STD = (50.0, 92.208, 101.1675)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], ``[B, 3, H, W]`` -> CIE L*a*b* (L in [0, 100]), same shape."""
    x = rgb.float().clamp(0, 1)
    linear = torch.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = torch.einsum("ij,bjhw->bihw", _RGB_TO_XYZ.to(x.device), linear)
    xyz = xyz / _WHITE.to(x.device).view(1, 3, 1, 1)
    eps = (6 / 29) ** 3
    f = torch.where(xyz > eps, xyz.clamp_min(eps) ** (1 / 3), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    L = 116 * f[:, 1] - 16
    a = 500 * (f[:, 0] - f[:, 1])
    b = 200 * (f[:, 1] - f[:, 2])
    return torch.stack([L, a, b], 1)


def normalized_lab(rgb: torch.Tensor) -> torch.Tensor:
    lab = rgb_to_lab(rgb)
    mean = torch.tensor(LAB_MEAN, device=lab.device).view(1, 3, 1, 1)
    std = torch.tensor(LAB_STD, device=lab.device).view(1, 3, 1, 1)
    return (lab - mean) / std
