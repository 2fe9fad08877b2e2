"""Augmented views of a batch, made on the batch's device, each sample seeded by (seed, step, index).

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

Every random number of sample ``i`` comes from ``(seed, global step, i's place in the global batch,
stream)`` (:mod:`multiview.views.seeding`), so a run resumed from a checkpoint sees exactly the
views an unbroken run sees. Methods get their views through :func:`augment_view` and
:func:`two_views`, the one path every contrastive and predictive method shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from multiview.core.errors import UserError
from multiview.views.seeding import as_draws, generator, global_index, sample_draws, view_step

__all__ = ["Augment", "AudioAugment", "ImageAugment", "augment_view", "generator", "moments", "pipeline_for",
           "two_views", "view_step"]

_GRAY = (0.299, 0.587, 0.114)


def _uniform(u: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * u


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

    draws = 13  # uniforms per sample

    def __call__(self, x: torch.Tensor, g: torch.Generator | torch.Tensor) -> torch.Tensor:
        """The view of ``x``; ``g``: per-sample uniforms ``[B, draws]`` (:func:`augment_view`) or a generator."""
        b, dev = x.shape[0], x.device
        u = as_draws(g, b, self.draws).unbind(1)
        x = x.float()
        size = self.size or x.shape[-1]
        area = _uniform(u[0], *self.scale)
        log_r = _uniform(u[1], math.log(self.ratio[0]), math.log(self.ratio[1]))
        w = (area * log_r.exp()).sqrt().clamp(max=1.0)
        h = (area / log_r.exp()).sqrt().clamp(max=1.0)
        cx, cy = (2 * u[2] - 1) * (1 - w), (2 * u[3] - 1) * (1 - h)
        flip = torch.where(u[4] < self.flip, -1.0, 1.0)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w * flip, cx, h, cy
        grid = F.affine_grid(theta.to(dev), [b, 3, size, size], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

        bri, con, sat, hue = self.jitter
        factors = [_uniform(u[5 + k], max(0.0, 1 - s), 1 + s) for k, s in enumerate((bri, con, sat))]
        factors.append(_uniform(u[8], -hue, hue))
        on, gray_on, blur_on = ((u[k] < p).to(dev) for k, p in ((9, self.jitter_p), (10, self.gray_p),
                                                                (11, self.blur_p)))
        sigma = _uniform(u[12], *self.blur_sigma)
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
            raise UserError(f"model.augment.crop: expected a fraction in (0, 1], got {self.crop}")
        if not 0 < self.speed[0] <= self.speed[1]:
            raise UserError(f"model.augment.speed: expected 0 < low <= high, got {list(self.speed)}")
        if not 0 <= self.mix < 1:
            raise UserError(f"model.augment.mix: expected a share in [0, 1), got {self.mix}")

    draws = 5  # uniforms per sample

    def __call__(self, wave: torch.Tensor, g: torch.Generator | torch.Tensor) -> torch.Tensor:
        """The view of ``wave``; ``g``: per-sample uniforms ``[B, draws]`` (:func:`augment_view`) or a generator."""
        b, n = wave.shape
        dev = wave.device
        u = as_draws(g, b, self.draws).unbind(1)
        out = max(1, int(round(self.crop * n)))
        factor = _uniform(u[0], *self.speed)
        room = ((n - 1) - (out - 1) * factor).clamp_min(0)
        start = u[1] * room
        pos = (start[:, None] + factor[:, None] * torch.arange(out)).clamp(max=n - 1).to(dev)
        lo = pos.floor().long()
        frac = (pos - lo).to(wave.dtype)
        x = wave.gather(1, lo) * (1 - frac) + wave.gather(1, (lo + 1).clamp(max=n - 1)) * frac
        gain = 10 ** (_uniform(u[2], -self.gain_db, self.gain_db) / 20)
        share = _uniform(u[3], 0.0, self.mix)
        # another sample of the batch, never itself: one of the b - 1 others, drawn per sample
        other = (u[4] * max(1, b - 1)).long().clamp(max=max(0, b - 2))
        other = other + (other >= torch.arange(b)).long()
        x = x * gain.to(x).view(-1, 1)
        if self.mix > 0 and b > 1:
            share = share.to(x).view(-1, 1)
            x = (1 - share) * x + share * x[other.to(dev)]
        return x


def pipeline_for(view: str, fields: dict | None = None) -> ImageAugment | AudioAugment:
    """The pipeline of a method's ``view``: :class:`AudioAugment` for ``audio``, else
    :class:`ImageAugment`, with the recipe's ``model.augment`` fields."""
    kind = AudioAugment if view == "audio" else ImageAugment
    try:
        return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in (fields or {}).items()})
    except TypeError as e:
        raise UserError(f"model.augment: {e} (fields of {kind.__name__})") from None


class Augment(Protocol):
    """What :func:`augment_view` runs: a pipeline reading ``draws`` uniforms per sample."""

    draws: int

    def __call__(self, x: torch.Tensor, g: torch.Generator | torch.Tensor) -> torch.Tensor: ...


def augment_view(augment: Augment, x: torch.Tensor, seed: int, step: int, rank: int = 0,
                 stream: int = 0) -> torch.Tensor:
    """One augmented view of every sample of ``x`` (``[B, 3, H, W]`` images or ``[B, S]`` sounds).

    Sample ``i`` of rank ``rank``'s batch draws from ``(seed, step, rank * B + i, stream)`` alone
    (:func:`~multiview.views.seeding.sample_draws`), so a resumed run sees exactly the views an
    unbroken one sees. ``step``: the global step (``(step, rank) =``
    :func:`~multiview.views.seeding.view_step` ``(module, batch_idx)`` in a LightningModule);
    ``stream``: which view (0 and 1 for a pair, 2, 3, ... for further crops).
    """
    draws = sample_draws(seed, step, global_index(len(x), rank), stream, augment.draws)
    return augment(x, draws)


def two_views(augment: Augment, x: torch.Tensor, seed: int, step: int,
              rank: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two augmented views of every sample of ``x``: streams 0 and 1 of :func:`augment_view`, of
    the same image (or sound) twice, or of two moments (first and last frame) of a clip
    ``[B, T, 3, H, W]`` (:func:`moments`). The pair SimCLR, MoCo, BYOL, SimSiam, DINO, instance
    discrimination, VICReg and Barlow Twins train on.

    Example, in a method's ``losses(batch, batch_idx)``::

        step, rank = view_step(self, batch_idx)
        x1, x2 = two_views(self.augment, self.inputs(batch, clips=True), self.aug_seed, step, rank)
    """
    a, b = moments(x)
    return augment_view(augment, a, seed, step, rank, 0), augment_view(augment, b, seed, step, rank, 1)
