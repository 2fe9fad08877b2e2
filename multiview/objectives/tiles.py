"""A 3x3 grid of tiles with gaps: the input of relative patch position and of jigsaw puzzles.

Doersch, Gupta, Efros 2015 (Sec. 3, "Unsupervised visual representation learning by context
prediction") sample patches from a 3x3 grid "with a gap in between patches" and "randomly
jitter each patch location", so the network cannot match low-level cues such as edges that
continue across patches; Noroozi & Favaro 2016 (Sec. 3.1) cut 64 px tiles at random places in the
75 px cells of a 225 px crop for the same reason.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from multiview.core.errors import UserError


def cell_tiles(images: torch.Tensor, size: int, tile: int, jitter: int, grid: int = 3) -> torch.Tensor:
    """``[B, grid*grid, C, tile, tile]``: images resized to ``size`` and cut into a ``grid`` x
    ``grid`` of cells (row-major), one ``tile``-pixel tile from each, centred in its cell and
    moved by up to ``jitter`` pixels each way (independently per tile; 0 for no jitter). The
    margin left around each tile is the gap that keeps neighbouring tiles from sharing edges."""
    cell = size // grid
    if tile + 2 * jitter > cell:
        raise UserError(f"tile {tile} + 2 * jitter {jitter} exceeds the cell of {cell} px ({size} px / {grid})")
    x = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True) \
        if images.shape[-1] != size or images.shape[-2] != size else images
    b, n = len(x), grid * grid
    base = (cell - tile) // 2
    origin = torch.arange(grid, device=x.device) * cell + base
    rows, cols = origin.repeat_interleave(grid), origin.repeat(grid)  # row-major cells
    shift = torch.randint(-jitter, jitter + 1, (2, b, n), device=x.device) if jitter else \
        torch.zeros(2, b, n, dtype=torch.long, device=x.device)
    top, left = rows + shift[0], cols + shift[1]  # [B, n]
    ar = torch.arange(tile, device=x.device)
    yy = (top[..., None] + ar)[..., :, None].expand(b, n, tile, tile)
    xx = (left[..., None] + ar)[..., None, :].expand(b, n, tile, tile)
    flat = (yy * size + xx).reshape(b, 1, n * tile * tile)
    out = x.reshape(b, x.shape[1], size * size).gather(2, flat.expand(-1, x.shape[1], -1))
    return out.reshape(b, x.shape[1], n, tile, tile).transpose(1, 2)
