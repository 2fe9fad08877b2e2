"""Autoencoder and denoising-autoencoder objectives.

Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science 2006:
an encoder ``f`` and a decoder ``g`` through a narrow code, trained to minimise the squared
reconstruction error ``||x - g(f(x))||^2``. Vincent, Larochelle, Bengio, Manzagol, "Extracting
and Composing Robust Features with Denoising Autoencoders", ICML 2008 (Sec. 2.3): the input is
first corrupted, ``x~ ~ q_D(x~ | x)``, and the clean ``x`` is reconstructed from it,
``L = ||x - g(f(x~))||^2``. Their corruption is masking noise (a fraction ``nu`` of the input
components, chosen at random, set to 0); additive isotropic Gaussian noise is the other common
choice (Vincent et al. 2010, Sec. 4.2).
"""

from __future__ import annotations

import torch

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
