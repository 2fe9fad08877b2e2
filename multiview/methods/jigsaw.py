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
zero-mean unit-std tile. Training images may first be cropped and flipped (``augment``,
:class:`~multiview.views.crops.TrainingCrops`).
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.methods.parts import ClassifierHead
from multiview.objectives.jigsaw import hamming_permutations, jigsaw_loss, normalize_tiles, shuffle_tiles
from multiview.objectives.tiles import cell_tiles
from multiview.views.crops import TrainingCrops

GRID = 3


class Jigsaw(OneEncoder):
    """A frame encoder trained as the shared tower of a 3x3 jigsaw-puzzle solver.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' picture).
        n_permutations: size of the permutation set (the paper's default 100).
        permutation_seed: seed of the greedy maximal-Hamming permutation search.
        size: side the images are resized to before they are cut into 3x3 cells, px.
        tile: side of a tile, px (at most size / 3; the rest of the cell is the gap and jitter).
        hidden: width of the MLP on the concatenated tile features.
        augment: crop and flip of the training images (:class:`~multiview.views.crops.TrainingCrops`
            fields, ``{}`` for its defaults); None: the images as they are.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", n_permutations: int = 100,
                 permutation_seed: int = 0, size: int = 96, tile: int = 28, hidden: int = 512,
                 augment: dict | None = None, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if tile > size // GRID:
            raise UserError(f"model.tile: {tile} px exceeds the {size // GRID} px cell of model.size {size}")
        self.size, self.tile = size, tile
        self.register_buffer("permutations", hamming_permutations(n_permutations, GRID * GRID, permutation_seed))
        self.head = ClassifierHead(GRID * GRID * self.encoder.out_dim, hidden, n_permutations)
        self.crops = TrainingCrops(augment)

    def encoder_range(self, tiles: torch.Tensor) -> torch.Tensor:
        mean, std = getattr(self.encoder, "mean", None), getattr(self.encoder, "std", None)
        return tiles if mean is None or std is None else tiles * std + mean

    def task(self, batch: dict, batch_idx: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [B, n_permutations], the permutation each image's tiles were shuffled by [B])``."""
        images = self.crops(self, self.inputs(batch), batch_idx)
        jitter = (self.size // GRID - self.tile) // 2
        tiles = normalize_tiles(cell_tiles(images, self.size, self.tile, jitter, GRID))  # [B, 9, C, t, t]
        target = torch.randint(len(self.permutations), (len(images),), device=images.device)
        shuffled = self.encoder_range(shuffle_tiles(tiles, self.permutations, target))
        b, n = shuffled.shape[:2]
        features = self.encoder(shuffled.flatten(0, 1)).view(b, n * self.encoder.out_dim)
        return self.head(features), target

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        logits, target = self.task(batch, batch_idx)
        return {"loss": jigsaw_loss(logits, target), "acc": (logits.argmax(1) == target).float().mean()}
