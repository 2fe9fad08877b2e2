"""Relative patch position (Doersch, Gupta, Efros, ICCV 2015, "Unsupervised visual representation
learning by context prediction").

A patch and one of its eight neighbours in a 3x3 grid are shown to two towers with shared
weights, and the network classifies where the neighbour sits (Sec. 3, Fig. 2): an 8-way
cross-entropy ``-log p(y | patch, neighbour)``, ``y`` numbering the neighbours row-major from
the top left. Chromatic aberration lets a network find a patch's place in the lens from colour
fringes alone (Sec. 3.1); the paper's guards are colour dropping (two of three channels replaced
by noise, ~1/100 the std of the channel kept) and projection (shifting green and magenta toward
grey, i.e. removing the ``(-1, 2, -1)`` direction of RGB).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# (row, column) offset of each neighbour from the centre cell, row-major; y indexes this list.
NEIGHBOURS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
CENTRE = 4  # index of the centre cell of a row-major 3x3 grid
COLOUR_GUARDS = ("drop", "project", "grey", "none")


def neighbour_cells() -> torch.Tensor:
    """``[8]``: the row-major 3x3 cell of neighbour ``y``."""
    return torch.tensor([CENTRE + 3 * r + c for r, c in NEIGHBOURS])


def pick_pairs(tiles: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(centre, neighbour)`` patches from row-major 3x3 ``tiles`` ``[B, 9, C, H, W]``, the
    neighbour of sample ``b`` being neighbour ``positions[b]`` (0-7)."""
    cells = neighbour_cells().to(tiles.device)[positions]
    return tiles[:, CENTRE], tiles[torch.arange(len(tiles), device=tiles.device), cells]


def guard_colour(patches: torch.Tensor, mode: str = "drop", noise: float = 0.01) -> torch.Tensor:
    """``[N, 3, H, W]`` patches with the chromatic-aberration shortcut removed.

    ``drop``: keep one random channel per patch; the other two become the kept channel's mean
    plus Gaussian noise of ``noise`` times its std. ``project``: remove the green-magenta
    direction ``(-1, 2, -1)``. ``grey``: every channel the mean of the three. ``none``: as they are.
    """
    if mode == "none":
        return patches
    if mode == "grey":
        return patches.mean(1, keepdim=True).expand_as(patches).contiguous()
    if mode == "project":
        a = torch.tensor([-1.0, 2.0, -1.0], device=patches.device, dtype=patches.dtype)
        a = (a / a.norm()).view(1, 3, 1, 1)
        return patches - (patches * a).sum(1, keepdim=True) * a
    if mode != "drop":
        raise ValueError(f"colour guard: expected one of {', '.join(COLOUR_GUARDS)}, got {mode!r}")
    n = len(patches)
    keep = torch.randint(3, (n,), device=patches.device)
    kept = patches[torch.arange(n, device=patches.device), keep].unsqueeze(1)  # [N, 1, H, W]
    mean = kept.mean((2, 3), keepdim=True)
    std = kept.std((2, 3), keepdim=True)
    filled = mean + noise * std * torch.randn_like(patches)
    mask = F.one_hot(keep, 3).to(patches.dtype).view(n, 3, 1, 1)
    return mask * patches + (1 - mask) * filled


def relative_position_loss(logits: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the neighbour positions (8 classes)."""
    return F.cross_entropy(logits, positions)
