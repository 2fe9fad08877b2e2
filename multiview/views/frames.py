"""Augmentation of the frames of every training batch on its device: :class:`BatchAugment`.

A recipe switch (a Lightning callback) for methods that take their frames as the batch gives them
(CMC, the audio-visual methods): loader workers only read and decode, and the flips, crops
(resized back) and brightness/contrast jitter run on the batch's device, per sample, after the
copy from the loader. Sample ``i`` of rank ``r``'s batch of ``B`` draws from ``(seed, global step,
r * B + i)`` alone (:mod:`multiview.views.seeding`), so a resumed run sees exactly the frames an
unbroken run sees.

    multiview fit --config recipes/cmc_av_folder.yaml --data.shards DIR \\
        --trainer.callbacks+=multiview.views.frames.BatchAugment
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from multiview.views.seeding import as_draws, global_index, sample_draws

DRAWS = 6  # uniforms per sample: crop area, centre x, centre y, flip, brightness, contrast
STREAM = 1 << 20  # apart from the method's own view streams


def augment_frames(x: torch.Tensor, g: torch.Generator | torch.Tensor | None = None, crop: float = 0.8,
                   jitter: float = 0.2) -> torch.Tensor:
    """Per-sample random crop (area fraction in [crop, 1], resized back), flip and jitter of ``[B, 3, H, W]``.

    ``g``: per-sample uniforms ``[B, 6]`` (:func:`~multiview.views.seeding.sample_draws`), a
    generator, or None (the global one). ``[B, T, 3, H, W]`` clips get one draw per clip, shared by
    their frames. Values stay in [0, 1].
    """
    clip = x.ndim == 5
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    frames = x.flatten(0, 1) if clip else x
    t = frames.shape[0] // b
    dev = x.device
    u = (torch.rand(b, DRAWS) if g is None else as_draws(g, b, DRAWS)).to(dev).unbind(1)

    scale = (crop + (1 - crop) * u[0]).sqrt()  # side fraction
    cx, cy = (u[1] * 2 - 1) * (1 - scale), (u[2] * 2 - 1) * (1 - scale)
    flip = torch.where(u[3] < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2] = scale * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = scale, cy
    theta = theta.repeat_interleave(t, 0)
    grid = F.affine_grid(theta, [frames.shape[0], 3, h, w], align_corners=False)
    out = F.grid_sample(frames.float(), grid.to(frames.dtype if frames.is_floating_point() else torch.float),
                        mode="bilinear", padding_mode="reflection", align_corners=False)
    bright = (1 + jitter * (u[4] * 2 - 1)).repeat_interleave(t).view(-1, 1, 1, 1)
    contrast = (1 + jitter * (u[5] * 2 - 1)).repeat_interleave(t).view(-1, 1, 1, 1)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = ((out - mean) * contrast + mean) * bright
    out = out.clamp_(0, 1).to(x.dtype)
    return out.view_as(x) if clip else out


class BatchAugment(L.Callback):
    """Augments the ``frame``/``frames`` of each training batch on its device, per sample.

    Args:
        crop: smallest crop area, as a fraction of the frame.
        jitter: largest relative change of brightness and of contrast.
        seed: seed of the draws, with the global step and each sample's place in the global batch.
    """

    def __init__(self, crop: float = 0.8, jitter: float = 0.2, seed: int = 0):
        self.crop, self.jitter, self.seed = crop, jitter, seed

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        for key in ("frame", "frames"):
            if isinstance(batch, dict) and torch.is_tensor(batch.get(key)):
                x = batch[key]
                draws = sample_draws(self.seed, trainer.global_step, global_index(len(x), trainer.global_rank),
                                     STREAM, DRAWS)
                batch[key] = augment_frames(x, draws, self.crop, self.jitter)
