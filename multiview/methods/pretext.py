"""What the single-encoder pretext methods share: one image encoder, the batch's images, tiles.

A pretext method (rotation, jigsaw, relative patch position) trains one frame encoder on a task
made from the images themselves. It reads ``"image"`` (image folders) or ``"frame"`` (video
clips) from a batch, whichever is present, and names its encoder in :meth:`encoders` by that key,
so reports (:class:`~multiview.eval.reports.ProbeReport`) feed it the same batches: ``view:
auto`` takes the key of the first training batch; ``image`` or ``frame`` fix it.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from multiview.encoders.registry import EncoderSpec, as_spec, build, plain
from multiview.methods.base import Method

VIEWS = ("auto", "image", "frame")


def batch_images(batch: dict) -> tuple[str, torch.Tensor]:
    """``(key, [B, 3, H, W])``: the batch's ``image``, else its ``frame`` (first of a clip's frames)."""
    for key in ("image", "frame"):
        if key in batch:
            x = batch[key]
            return key, x[:, 0] if x.ndim == 5 else x
    raise KeyError(f"a pretext method needs batch key 'image' or 'frame'; the batch has {', '.join(batch)}")


def cell_tiles(images: torch.Tensor, size: int, tile: int, jitter: int, grid: int = 3) -> torch.Tensor:
    """``[B, grid*grid, C, tile, tile]``: images resized to ``size`` and cut into a ``grid`` x
    ``grid`` of cells (row-major), one ``tile``-pixel tile from each, centred in its cell and
    moved by up to ``jitter`` pixels each way (independently per tile; 0 for no jitter). The
    margin left around each tile is the gap that keeps neighbouring tiles from sharing edges."""
    cell = size // grid
    if tile + 2 * jitter > cell:
        raise ValueError(f"tile {tile} + 2 * jitter {jitter} exceeds the cell of {cell} px "
                         f"({size} px / {grid})")
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


def head(in_dim: int, hidden: int, out_dim: int) -> nn.Module:
    """The classifier on the tower features: Linear -> BN -> ReLU -> Linear (Linear when ``hidden`` is 0)."""
    if hidden <= 0:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, out_dim))


class PretextMethod(Method):
    """One frame encoder trained on a pretext task; subclasses add the head and ``training_step``.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the name of the encoder in :meth:`encoders`: "image", "frame", or "auto" (the
            batch key the training data gives); "audio" where a subclass takes sounds.
        sample_rate: of the waveforms, Hz, for an audio view's log-mel front end.
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    views = VIEWS

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", sample_rate: int = 16000, **kwargs):
        super().__init__(**kwargs)
        if view not in self.views:
            raise ValueError(f"model.view: expected one of {', '.join(self.views)}, got {view!r}")
        self.view = view
        self.seen_view = "image" if view == "auto" else view
        if view == "audio":
            self.encoder = build(as_spec(encoder, {"name": "logmel_resnet"}), sample_rate=sample_rate)
        else:
            self.encoder = build(plain(encoder) or EncoderSpec(), 3)

    def encoders(self) -> dict[str, nn.Module]:
        return {self.seen_view: self.encoder}

    def images(self, batch: dict) -> torch.Tensor:
        """The batch's images; under ``view: auto`` the first batch also names the encoder's view."""
        key, x = batch_images(batch)
        if self.view == "auto":
            self.seen_view = key
        return x

    def log_step(self, stage: str, loss: torch.Tensor, logits: torch.Tensor, target: torch.Tensor) -> None:
        n = len(target)
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=n, sync_dist=stage == "val")
        acc = (logits.argmax(1) == target).float().mean()
        self.log(f"{stage}/acc", acc, prog_bar=stage == "val", batch_size=n, sync_dist=stage == "val")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, logits, target = self.task(batch)
        self.log_step("val", loss, logits, target)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, logits, target = self.task(batch)
        self.log_step("train", loss, logits, target)
        return loss

    def task(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loss, logits, targets)`` of the pretext task on ``batch``."""
        raise NotImplementedError
