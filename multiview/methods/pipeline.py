"""The device-side half of the input pipeline, as recipe switches (Lightning callbacks).

Loader workers only read and decode; what can run on the batch runs on the model's device:

* augmentation of the frames of each training batch, per sample:
  :class:`multiview.views.frames.BatchAugment` (every augmentation lives in :mod:`multiview.views`).
* :func:`audio_features`: log-mel (the audio encoder's own front end) and sound-texture
  statistics (McDermott & Simoncelli 2011, :mod:`multiview.objectives.sound_texture`) of a
  batch of waveforms, on their device.
* :class:`Compile`: ``torch.compile`` of every encoder in place (state dict names unchanged).

bf16 autocast is the trainer's ``precision`` (``bf16-mixed``, the default on a GPU), and
channels_last is set by the methods on cuda inputs. Loaders pin memory on a GPU machine and
Lightning copies pinned batches with ``non_blocking=True``.

    multiview fit --config recipes/cmc_av_folder.yaml --data.shards DIR \\
        --trainer.callbacks+=multiview.views.frames.BatchAugment \\
        --trainer.callbacks+=multiview.methods.pipeline.Compile
"""

from __future__ import annotations

import lightning as L
import torch

from multiview.encoders.audio import LogMel
from multiview.objectives.sound_texture import sound_texture_stats


def audio_features(audio: torch.Tensor, sample_rate: int, n_mels: int = 64) -> dict[str, torch.Tensor]:
    """``{"logmel": [B, 1, n_mels, frames], "texture": [B, D]}`` of ``[B, n]`` waveforms, on their device."""
    logmel = LogMel(sample_rate, n_mels).to(audio.device)
    return {"logmel": logmel(audio), "texture": sound_texture_stats(audio.float(), sample_rate)}


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
