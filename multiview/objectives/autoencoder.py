"""Autoencoder and denoising-autoencoder objectives.

Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science 2006:
an encoder ``f`` and a decoder ``g`` through a narrow code, trained to minimise the squared
reconstruction error ``||x - g(f(x))||^2``. Vincent, Larochelle, Bengio, Manzagol, "Extracting
and Composing Robust Features with Denoising Autoencoders", ICML 2008 (Sec. 2.3): the input is
first corrupted, ``x~ ~ q_D(x~ | x)``, and the clean ``x`` is reconstructed from it,
``L = ||x - g(f(x~))||^2``. Their corruption is masking noise (a fraction ``nu`` of the input
components, chosen at random, set to 0); additive isotropic Gaussian noise is the other common
choice (Vincent et al. 2010, Sec. 4.2).

The squared error of raw pixels is dominated by their low frequencies (natural images' power falls
as 1/f^2), so an autoencoder trained on it spends its capacity on smooth colour. Whitening is the
classic remedy (Krizhevsky 2009, Sec. 2.2; Coates, Lee, Ng, AISTATS 2011, Sec. 3.1.1: "whitening
is critical" for autoencoder features): :func:`zca_kernel` fits ZCA on ``k x k`` patches and
keeps the rows of the centre pixel as a convolution, and :func:`whitened_loss` is the squared
error after that filter, ``||W * (x - g(f(x)))||^2``, which weighs every frequency alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NOISES = ("none", "mask", "gaussian")


def corrupt(x: torch.Tensor, noise: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``q_D(x~ | x)``: "none" (x), "mask" (each component zeroed with probability ``level``) or
    "gaussian" (``x + N(0, level^2)``, clamped to [0, 1])."""
    if noise == "none" or level == 0:
        return x
    if noise == "mask":
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= level
        return x * keep.to(x.dtype)
    if noise == "gaussian":
        return (x + level * torch.randn(x.shape, generator=generator, device=x.device)).clamp(0, 1)
    raise ValueError(f"noise: expected one of {', '.join(NOISES)}, got {noise!r}")


def reconstruction_loss(reconstruction: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Squared error per input component, averaged over the batch and components."""
    return (reconstruction.float() - clean.float()).pow(2).mean()


def zca_kernel(images: torch.Tensor, size: int = 5, eps: float = 0.1) -> torch.Tensor:
    """ZCA whitening of ``size x size`` patches as a ``[C, C, size, size]`` convolution kernel.

    ``W = U diag(1 / sqrt(lambda + eps * mean(lambda))) U^T`` from the patches' covariance
    ``U diag(lambda) U^T`` (Coates et al. 2011, Sec. 3.1.1, with ``eps`` relative to the mean
    eigenvalue); the kernel holds the rows of ``W`` that give each channel's centre pixel.
    """
    c = images.shape[1]
    patches = F.unfold(images.float(), size).transpose(1, 2).reshape(-1, c * size * size)
    patches = patches - patches.mean(0)
    cov = patches.T @ patches / max(1, len(patches) - 1)
    lam, u = torch.linalg.eigh(cov.double())
    lam = lam.clamp_min(0)
    w = (u / (lam + eps * lam.mean()).sqrt()) @ u.T
    centre = [ch * size * size + (size // 2) * size + size // 2 for ch in range(c)]
    return w[centre].reshape(c, c, size, size).float()


def whitened_loss(reconstruction: torch.Tensor, clean: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Squared error of ``kernel * (reconstruction - clean)`` (zero padding), averaged like
    :func:`reconstruction_loss`."""
    diff = reconstruction.float() - clean.float()
    return F.conv2d(diff, kernel.to(diff), padding=kernel.shape[-1] // 2).pow(2).mean()
