"""Relative patch position (Doersch, Gupta, Efros 2015): where is this patch's neighbour?

Each image is resized to ``size`` px and cut into a 3x3 grid of cells; a ``patch``-px patch is
cropped near the middle of each cell with up to ``jitter`` px of random shift, so two neighbours
are separated by a gap of ``size / 3 - patch`` px, give or take the jitter (the paper: 96 px
patches, a 48 px gap, 7 px of jitter). The centre patch and one random neighbour go through the
same encoder (two towers, shared weights); an MLP on their concatenated pooled features classifies
the neighbour's position (8 ways). Every training patch first loses its chromatic-aberration cue
(:func:`~multiview.objectives.relative_position.guard_colour`, Sec. 3.1).

At CIFAR-10's 32 px a cell would be 10 px; the default upsamples to 96 px (32 px cells, 24 px
patches, an 8 px gap varied by up to 3+3 px of jitter), patches near the 32 px images the encoder
is probed on. At the end of fit the method writes ``patch_neighbours.png`` into the run: held-out
query patches (left column) and their nearest neighbours among the patches of other held-out
images in pooled-feature space (cosine), as in the paper's Fig. 4. Training images may first be
cropped and flipped (``augment``, :class:`~multiview.views.crops.TrainingCrops`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from multiview.core.errors import UserError
from multiview.core.io import atomic_write
from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.methods.parts import ClassifierHead
from multiview.objectives.relative_position import (
    COLOUR_GUARDS,
    NEIGHBOURS,
    guard_colour,
    pick_pairs,
    relative_position_loss,
)
from multiview.objectives.tiles import cell_tiles
from multiview.views.crops import TrainingCrops


class RelativePosition(OneEncoder):
    """A frame encoder trained as the shared tower of a relative-position classifier.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' picture).
        size: side the images are resized to before they are cut into 3x3 cells, px.
        patch: side of a patch, px.
        jitter: largest random shift of a patch inside its cell, px, each way.
        colour: the chromatic-aberration guard: "drop" (two channels to noise), "project"
            (green-magenta removed), "grey" or "none".
        hidden: width of the MLP on the two concatenated patch features.
        retrieval_queries: query patches in ``patch_neighbours.png`` (0: no figure).
        retrieval_images: held-out images whose patches are searched for neighbours.
        augment: crop and flip of the training images (:class:`~multiview.views.crops.TrainingCrops`
            fields, ``{}`` for its defaults); None: the images as they are.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", size: int = 96, patch: int = 24,
                 jitter: int = 3, colour: str = "drop", hidden: int = 512, retrieval_queries: int = 8,
                 retrieval_images: int = 256, augment: dict | None = None, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        if colour not in COLOUR_GUARDS:
            raise UserError(f"model.colour: expected one of {', '.join(COLOUR_GUARDS)}, got {colour!r}")
        if patch + 2 * jitter > size // 3:
            raise UserError(f"model.patch {patch} + 2 * model.jitter {jitter} exceeds the {size // 3} px "
                             f"cell of model.size {size}")
        self.size, self.patch, self.jitter, self.colour = size, patch, jitter, colour
        self.retrieval_queries, self.retrieval_images = retrieval_queries, retrieval_images
        self.head = ClassifierHead(2 * self.encoder.out_dim, hidden, len(NEIGHBOURS))
        self.crops = TrainingCrops(augment)

    def task(self, batch: dict, batch_idx: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [B, 8], where each image's neighbour patch sits [B])``."""
        images = self.crops(self, self.inputs(batch), batch_idx)
        tiles = cell_tiles(images, self.size, self.patch, self.jitter)
        target = torch.randint(len(NEIGHBOURS), (len(images),), device=images.device)
        centre, neighbour = pick_pairs(tiles, target)
        both = guard_colour(torch.cat([centre, neighbour]), self.colour)
        f = self.encoder(both)
        return self.head(torch.cat(f.chunk(2), 1)), target

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        logits, target = self.task(batch, batch_idx)
        return {"loss": relative_position_loss(logits, target), "acc": (logits.argmax(1) == target).float().mean()}

    @torch.no_grad()
    def held_out_patches(self, loader) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(patches [N, 3, p, p], pooled features [N, D], image id [N])``: the nine unjittered
        patches of the first ``retrieval_images`` images of ``loader``."""
        patches, seen = [], 0
        for batch in loader:
            x = self.inputs(batch)
            patches.append(cell_tiles(x.to(self.device).float(), self.size, self.patch, 0))
            seen += len(x)
            if seen >= self.retrieval_images:
                break
        tiles = torch.cat(patches)[: self.retrieval_images]
        ids = torch.arange(len(tiles), device=tiles.device).repeat_interleave(tiles.shape[1])
        flat = tiles.flatten(0, 1)
        was_training = self.training
        self.eval()
        try:
            feats = torch.cat([self.encoder(chunk) for chunk in flat.split(256)])
        finally:
            self.train(was_training)
        return flat, feats, ids

    def write_neighbours(self, loader, path: Path, k: int = 6) -> Path:
        """``path``: a PNG of query patches (left) and their ``k`` nearest held-out neighbours."""
        from torchvision.utils import make_grid

        patches, feats, ids = self.held_out_patches(loader)
        if ids.max() < 1:
            raise UserError("patch retrieval: needs two or more held-out images")
        z = F.normalize(feats.float(), dim=1)
        queries = torch.linspace(0, len(z) - 1, self.retrieval_queries).round().long().to(z.device)
        sim = z[queries] @ z.T
        sim[ids[queries][:, None] == ids[None, :]] = -2.0  # neighbours come from other images
        nearest = sim.topk(min(k, int((ids != ids[0]).sum())), dim=1).indices
        rows = torch.cat([queries[:, None], nearest], 1).flatten()
        grid = make_grid(patches[rows].clamp(0, 1).cpu(), nrow=nearest.shape[1] + 1, padding=2, pad_value=1.0)
        grid = F.interpolate(grid[None], scale_factor=2, mode="nearest")[0]
        from PIL import Image

        image = Image.fromarray((grid.permute(1, 2, 0) * 255).round().byte().numpy())
        return atomic_write(path, lambda f: image.save(f, format="png"))

    def on_fit_end(self) -> None:
        trainer = self.trainer
        if (self.retrieval_queries <= 0 or trainer is None or not trainer.is_global_zero or trainer.interrupted
                or getattr(trainer, "fast_dev_run", False)):
            return
        dm = getattr(trainer, "datamodule", None)
        try:
            loader = dm.val_dataloader()
            path = self.write_neighbours(loader, Path(trainer.default_root_dir) / "patch_neighbours.png")
            print(f"patch retrieval: {path}", flush=True)
        except Exception as e:  # the figure must never cost the trained run
            print(f"patch retrieval: not written ({type(e).__name__}: {str(e)[:300]})", file=sys.stderr)
