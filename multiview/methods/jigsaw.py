"""Jigsaw puzzles (Noroozi & Favaro 2016): name the permutation that shuffled 3x3 tiles.

Each image is resized to ``size`` px and cut into a 3x3 grid of cells; one ``tile``-px tile is
cropped at a random place inside each cell (the paper's 64 px tiles in 75 px cells of a 225 px
crop), so tiles are separated by a gap and do not continue each other's edges. Each tile is
normalised on its own (zero mean, unit std per channel), the tiles are shuffled by one of
``n_permutations`` permutations of maximal Hamming distance
(:func:`~multiview.objectives.jigsaw.hamming_permutations`), the shared encoder (one tower per
tile, shared weights) pools each tile, and an MLP on the nine concatenated features names the
permutation.

At CIFAR-10's 32 px a cell would be 10 px, too small for the encoder; the default upsamples to
96 px (32 px cells, 28 px tiles, a gap of 0-8 px), so the encoder sees tiles near the 32 px
images it is probed on. A normalised tile is mapped back to the encoder's input range
(times the encoder's input std plus its mean), so after the encoder's own normalisation it is a
zero-mean unit-std tile.
"""

from __future__ import annotations

import torch

from multiview.encoders.registry import EncoderSpec
from multiview.methods.pretext import PretextMethod, cell_tiles, head
from multiview.objectives.jigsaw import hamming_permutations, jigsaw_loss, normalize_tiles, shuffle_tiles

GRID = 3


class Jigsaw(PretextMethod):
    """A frame encoder trained as the shared tower of a 3x3 jigsaw-puzzle solver.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' key).
        n_permutations: size of the permutation set (the paper's default 100).
        permutation_seed: seed of the greedy maximal-Hamming permutation search.
        size: side the images are resized to before they are cut into 3x3 cells, px.
        tile: side of a tile, px (at most size / 3; the rest of the cell is the gap and jitter).
        hidden: width of the MLP on the concatenated tile features.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", n_permutations: int = 100,
                 permutation_seed: int = 0, size: int = 96, tile: int = 28, hidden: int = 512, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if tile > size // GRID:
            raise ValueError(f"model.tile: {tile} px exceeds the {size // GRID} px cell of model.size {size}")
        self.size, self.tile = size, tile
        self.register_buffer("permutations", hamming_permutations(n_permutations, GRID * GRID, permutation_seed))
        self.head = head(GRID * GRID * self.encoder.out_dim, hidden, n_permutations)

    def encoder_range(self, tiles: torch.Tensor) -> torch.Tensor:
        mean, std = getattr(self.encoder, "mean", None), getattr(self.encoder, "std", None)
        return tiles if mean is None or std is None else tiles * std + mean

    def task(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images = self.images(batch)
        jitter = (self.size // GRID - self.tile) // 2
        tiles = normalize_tiles(cell_tiles(images, self.size, self.tile, jitter, GRID))  # [B, 9, C, t, t]
        target = torch.randint(len(self.permutations), (len(images),), device=images.device)
        shuffled = self.encoder_range(shuffle_tiles(tiles, self.permutations, target))
        b, n = shuffled.shape[:2]
        features = self.encoder(shuffled.flatten(0, 1)).view(b, n * self.encoder.out_dim)
        logits = self.head(features)
        return jigsaw_loss(logits, target), logits, target
