"""The device-side half of the input pipeline, as recipe switches (Lightning callbacks).

Loader workers only read and decode; what can run on the batch runs on the model's device:

* :class:`BatchAugment`: random flips, crops (resized back) and brightness/contrast jitter of
  the ``frame``/``frames`` of each training batch, drawn per sample, on the batch's device.
* :func:`audio_features`: log-mel (the audio encoder's own front end) and sound-texture
  statistics (McDermott & Simoncelli 2011, :mod:`multiview.objectives.sound_texture`) of a
  batch of waveforms, on their device.
* :class:`Compile`: ``torch.compile`` of every encoder in place (state dict names unchanged).

bf16 autocast is the trainer's ``precision`` (``bf16-mixed``, the default on a GPU), and
channels_last is set by the methods on cuda inputs. Loaders pin memory on a GPU machine and
Lightning copies pinned batches with ``non_blocking=True``.

    multiview fit --config recipes/cmc_av_folder.yaml --data.shards DIR \\
        --trainer.callbacks+=multiview.methods.pipeline.BatchAugment \\
        --trainer.callbacks+=multiview.methods.pipeline.Compile
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from multiview.encoders.audio import LogMel
from multiview.objectives.sound_texture import sound_texture_stats


def augment_frames(x: torch.Tensor, generator: torch.Generator | None = None, crop: float = 0.8,
                   jitter: float = 0.2) -> torch.Tensor:
    """Per-sample random crop (area fraction in [crop, 1], resized back), flip and jitter of ``[B, 3, H, W]``.

    ``[B, T, 3, H, W]`` clips get one draw per clip, shared by their frames. Values stay in [0, 1].
    """
    clip = x.ndim == 5
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    frames = x.flatten(0, 1) if clip else x
    t = frames.shape[0] // b
    dev = x.device

    def draw(*shape):
        return torch.rand(*shape, generator=generator, device="cpu").to(dev)

    scale = (crop + (1 - crop) * draw(b)).sqrt()  # side fraction
    cx, cy = (draw(b) * 2 - 1) * (1 - scale), (draw(b) * 2 - 1) * (1 - scale)
    flip = torch.where(draw(b) < 0.5, -1.0, 1.0).to(dev)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2] = scale * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = scale, cy
    theta = theta.repeat_interleave(t, 0)
    grid = F.affine_grid(theta, [frames.shape[0], 3, h, w], align_corners=False)
    out = F.grid_sample(frames.float(), grid.to(frames.dtype if frames.is_floating_point() else torch.float),
                        mode="bilinear", padding_mode="reflection", align_corners=False)
    bright = (1 + jitter * (draw(b) * 2 - 1)).repeat_interleave(t).view(-1, 1, 1, 1)
    contrast = (1 + jitter * (draw(b) * 2 - 1)).repeat_interleave(t).view(-1, 1, 1, 1)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = ((out - mean) * contrast + mean) * bright
    out = out.clamp_(0, 1).to(x.dtype)
    return out.view_as(x) if clip else out


def audio_features(audio: torch.Tensor, sample_rate: int, n_mels: int = 64) -> dict[str, torch.Tensor]:
    """``{"logmel": [B, 1, n_mels, frames], "texture": [B, D]}`` of ``[B, n]`` waveforms, on their device."""
    logmel = LogMel(sample_rate, n_mels).to(audio.device)
    return {"logmel": logmel(audio), "texture": sound_texture_stats(audio.float(), sample_rate)}


class BatchAugment(L.Callback):
    """Augments the frames of each training batch on its device, after the copy from the loader.

    Args:
        crop: smallest crop area, as a fraction of the frame.
        jitter: largest relative change of brightness and of contrast.
        seed: seed of the draws (offset by the global rank, so ranks draw differently).
    """

    def __init__(self, crop: float = 0.8, jitter: float = 0.2, seed: int = 0):
        self.crop, self.jitter, self.seed = crop, jitter, seed
        self.generator: torch.Generator | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self.generator is None:
            self.generator = torch.Generator().manual_seed(self.seed * 1000 + trainer.global_rank)
        for key in ("frame", "frames"):
            if isinstance(batch, dict) and torch.is_tensor(batch.get(key)):
                batch[key] = augment_frames(batch[key], self.generator, self.crop, self.jitter)


class Compile(L.Callback):
    """``torch.compile`` the method's encoders in place when fitting starts.

    Args:
        mode: torch.compile's mode ("default", "reduce-overhead", "max-autotune").
        backend: torch.compile's backend ("inductor"; "aot_eager" needs no compiler).
    """

    def __init__(self, mode: str = "default", backend: str = "inductor"):
        self.mode, self.backend = mode, backend

    def setup(self, trainer, pl_module, stage: str) -> None:
        encoders = getattr(pl_module, "encoders", None)
        modules = encoders().values() if callable(encoders) else [pl_module]
        for m in modules:
            m.compile(mode=None if self.mode == "default" else self.mode, backend=self.backend)
