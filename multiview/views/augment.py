"""Augmented views of a batch, made on the batch's device and seeded by the training step.

The views floor (beside :mod:`multiview.views.channels`): what a contrastive or predictive method sees of
one sample twice. Images and frames get SimCLR's pipeline (Chen et al. 2020, Appendix A): random
resized crop (area ``scale``, aspect ``ratio``) with horizontal flip, colour jitter (brightness,
contrast, saturation, hue) with probability ``jitter_p``, grayscale with probability ``gray_p``
and, optionally, Gaussian blur. All of it is batched tensor work (one ``grid_sample`` for crop and
flip, per-sample factors for the jitter, as torchvision.transforms.v2.functional computes them;
hue turns the chroma in YIQ space), so it runs on the GPU where the batch is. Sounds get two
random crops of one waveform (COLA, Saeed et al. 2021; BYOL-A, Niizumi et al. 2021), each read at
a random speed, with a random gain and mixed with another sound of the batch
(:class:`AudioAugment`); clips of two or more frames give two moments of one clip.

Every random number comes from a generator seeded by ``(seed, step, stream)``, so a run, and a
run resumed from a checkpoint, sees the same views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

_GRAY = (0.299, 0.587, 0.114)


def generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator for ``(seed, step, stream)``; streams tell views and ranks apart."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 1009 + stream)


def _uniform(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _gray(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(_GRAY, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _blend(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``f * a + (1 - f) * b`` per sample, clamped to [0, 1] (torchvision's ``_blend``)."""
    f = f.view(-1, 1, 1, 1)
    return (f * a + (1 - f) * b).clamp(0, 1)


def _hue(x: torch.Tensor, turn: torch.Tensor) -> torch.Tensor:
    """Hue shifted by ``turn`` (fractions of a full turn) as a rotation of the YIQ chroma."""
    m = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                     device=x.device, dtype=x.dtype)
    yiq = torch.einsum("ij,bjhw->bihw", m, x)
    c, s = torch.cos(2 * math.pi * turn).view(-1, 1, 1), torch.sin(2 * math.pi * turn).view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], c * i - s * q, s * i + c * q], 1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(m), yiq).clamp(0, 1)


def _blur(x: torch.Tensor, sigma: torch.Tensor, kernel: int) -> torch.Tensor:
    """Separable Gaussian blur with one ``sigma`` per sample (reflect padding)."""
    b, c = x.shape[:2]
    r = torch.arange(kernel, device=x.device, dtype=x.dtype) - kernel // 2
    k = torch.exp(-r.view(1, -1) ** 2 / (2 * sigma.view(-1, 1).to(x) ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # [B * C, K]
    y = F.pad(x.reshape(1, b * c, *x.shape[2:]), (kernel // 2,) * 4, mode="reflect")
    y = F.conv2d(y, k.view(b * c, 1, 1, kernel), groups=b * c)
    y = F.conv2d(y, k.view(b * c, 1, kernel, 1), groups=b * c)
    return y.view_as(x)


@dataclass
class ImageAugment:
    """SimCLR's image pipeline on a batch ``[B, 3, H, W]`` in [0, 1].

    Args:
        size: output side (None: the input's).
        scale: range of the crop's area fraction (SimCLR: 0.08-1; 0.2-1 suits 32 px images).
        ratio: range of the crop's aspect ratio.
        flip: probability of a horizontal flip.
        jitter: strengths of brightness, contrast, saturation and hue (SimCLR: 0.8s, 0.8s, 0.8s, 0.2s).
        jitter_p: probability of the colour jitter (0.8).
        gray_p: probability of grayscale (0.2).
        blur_p: probability of Gaussian blur (0: none, as SimCLR on CIFAR-10).
        blur_sigma: range of the blur's sigma, in pixels at the output size.
    """

    size: int | None = None
    scale: tuple[float, float] = (0.2, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: float = 0.5
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, dev = x.shape[0], x.device
        x = x.float()
        size = self.size or x.shape[-1]
        area = _uniform(g, b, *self.scale)
        log_r = _uniform(g, b, math.log(self.ratio[0]), math.log(self.ratio[1]))
        w = (area * log_r.exp()).sqrt().clamp(max=1.0)
        h = (area / log_r.exp()).sqrt().clamp(max=1.0)
        cx, cy = (2 * torch.rand(b, generator=g) - 1) * (1 - w), (2 * torch.rand(b, generator=g) - 1) * (1 - h)
        flip = torch.where(torch.rand(b, generator=g) < self.flip, -1.0, 1.0)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w * flip, cx, h, cy
        grid = F.affine_grid(theta.to(dev), [b, 3, size, size], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

        bri, con, sat, hue = self.jitter
        factors = [_uniform(g, b, max(0.0, 1 - s), 1 + s) for s in (bri, con, sat)] + [_uniform(g, b, -hue, hue)]
        on = (torch.rand(b, generator=g) < self.jitter_p).to(dev)
        gray_on = (torch.rand(b, generator=g) < self.gray_p).to(dev)
        blur_on = (torch.rand(b, generator=g) < self.blur_p).to(dev)
        sigma = _uniform(g, b, *self.blur_sigma)
        f_b, f_c, f_s, f_h = (f.to(dev) for f in factors)
        y = _blend(x, torch.zeros_like(x), f_b)
        y = _blend(y, _gray(y).mean((1, 2, 3), keepdim=True).expand_as(y), f_c)
        y = _blend(y, _gray(y).expand_as(y), f_s)
        y = _hue(y, f_h) if hue > 0 else y
        x = torch.where(on.view(-1, 1, 1, 1), y, x)
        x = torch.where(gray_on.view(-1, 1, 1, 1), _gray(x).expand_as(x), x)
        if self.blur_p > 0:
            kernel = 2 * math.ceil(3 * self.blur_sigma[1]) + 1
            kernel = min(kernel, 2 * (size // 2) - 1)
            x = torch.where(blur_on.view(-1, 1, 1, 1), _blur(x, sigma, kernel), x)
        return x


def moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two images of each sample: the first and last frames of ``[B, T, 3, H, W]`` clips (two
    moments of one clip), or the same ``[B, 3, H, W]`` image twice."""
    if x.ndim == 5:
        return x[:, 0], x[:, -1]
    return x, x


@dataclass
class AudioAugment:
    """One view of each waveform ``[B, S]``: BYOL-A's augmentations (Niizumi et al. 2021, Sec. 3.2)
    in the waveform domain.

    A crop of ``crop * S`` samples at a random position, read at a random ``speed`` (linear
    interpolation: speed perturbation, Ko et al. 2015, which stands in for BYOL-A's random resize
    crop of the spectrogram), a gain drawn in +-``gain_db`` decibels, and mixing with another
    waveform of the batch at a ratio drawn in ``[0, mix]`` (BYOL-A's mixup with background sound,
    Eq. 1, whose memory of past inputs the rest of the batch stands in for).

    Args:
        crop: the view's length as a fraction of the input's.
        speed: range of input samples read per output sample (1: none).
        gain_db: largest gain or attenuation, dB (0: none).
        mix: largest share of the other waveform (0: no mixing).
    """

    crop: float = 0.8
    speed: tuple[float, float] = (0.9, 1.1)
    gain_db: float = 6.0
    mix: float = 0.4

    def __post_init__(self):
        if not 0 < self.crop <= 1:
            raise ValueError(f"augment.crop: expected a fraction in (0, 1], got {self.crop}")
        if not 0 < self.speed[0] <= self.speed[1]:
            raise ValueError(f"augment.speed: expected 0 < low <= high, got {list(self.speed)}")
        if not 0 <= self.mix < 1:
            raise ValueError(f"augment.mix: expected a share in [0, 1), got {self.mix}")

    def __call__(self, wave: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, n = wave.shape
        dev = wave.device
        out = max(1, int(round(self.crop * n)))
        factor = _uniform(g, b, *self.speed)
        room = ((n - 1) - (out - 1) * factor).clamp_min(0)
        start = torch.rand(b, generator=g) * room
        pos = (start[:, None] + factor[:, None] * torch.arange(out)).clamp(max=n - 1).to(dev)
        lo = pos.floor().long()
        frac = (pos - lo).to(wave.dtype)
        x = wave.gather(1, lo) * (1 - frac) + wave.gather(1, (lo + 1).clamp(max=n - 1)) * frac
        gain = 10 ** (_uniform(g, b, -self.gain_db, self.gain_db) / 20)
        share = _uniform(g, b, 0.0, self.mix)
        other = torch.randperm(b, generator=g)
        x = x * gain.to(x).view(-1, 1)
        if self.mix > 0 and b > 1:
            share = share.to(x).view(-1, 1)
            x = (1 - share) * x + share * x[other.to(dev)]
        return x
