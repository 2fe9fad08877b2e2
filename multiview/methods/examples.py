"""The held-out examples PNG of the image-to-image pretexts: input, output, ground truth, in rows.

An autoencoder shows its reconstructions (Hinton & Salakhutdinov 2006, Fig. 2), a context encoder
its inpainted holes (Pathak et al. 2016, Fig. 1), colorization its colours (Zhang et al. 2016,
Fig. 1): one row per picture kind, one column per held-out image. A method gives ``rows(images)
-> [tensor [N, 3, H, W] in [0, 1], ...]`` and calls :func:`write_at_fit_end` from its
``on_fit_end``; tests call :func:`write_examples`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn
import torchvision

from multiview.core.io import atomic_write

Rows = Callable[[torch.Tensor], list]


@torch.no_grad()
def write_examples(module: nn.Module, rows: Rows, images: torch.Tensor, path: Path) -> Path:
    """``path``: one PNG, a row per tensor ``rows(images)`` returns, a column per image, made in
    eval mode (the module's mode restored); written atomically."""
    device = next(module.parameters()).device
    was = module.training
    module.eval()
    try:
        pictures = [r.float().clamp(0, 1).cpu() for r in rows(images.to(device))]
    finally:
        module.train(was)
    grid = torchvision.utils.make_grid(torch.cat(pictures), nrow=len(images), padding=1)
    return atomic_write(Path(path), lambda f: torchvision.utils.save_image(grid, f, format="png"))


def write_at_fit_end(method, name: str, rows: Rows, n: int = 8) -> Path | None:
    """``<run>/<name>`` from the first ``n`` images of the first held-out batch, on rank 0 at the
    end of an uninterrupted fit with a datamodule; None when there is nothing to show."""
    trainer = method.trainer
    if trainer is None or not trainer.is_global_zero or trainer.interrupted or trainer.datamodule is None:
        return None
    try:
        batch = next(iter(trainer.datamodule.val_dataloader()))
    except (StopIteration, TypeError, AttributeError):
        return None
    return write_examples(method, rows, method.inputs(batch)[:n], Path(trainer.default_root_dir) / name)
