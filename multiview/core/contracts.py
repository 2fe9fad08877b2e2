"""The small shared vocabulary every layer speaks: encoders, what a method exposes, sample keys.

An **encoder** is an ``nn.Module`` with ``out_dim`` (the width of its pooled output),
``modality`` ("frame" for images and video frames, "audio" for waveforms, "text" for lists of
strings) and ``features(x) -> {layer name: tensor}``, whose last entry is ``"pool"``, the
``[B, out_dim]`` vector that ``forward`` returns. A **method** (``multiview.methods.base.Method``)
names its encoders through ``encoders() -> {view name: encoder}`` and embeds a batch with
``embed(batch) -> {view name: [B, D]}``. Evaluation, reports and export use only these.

A **sample** is a dict; the keys below are the ones data modules produce and views read.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

FRAME, IMAGE, AUDIO, CAPTION = "frame", "image", "audio", "caption"
LABEL, INDEX, TIME = "label", "index", "time"
MODALITIES = ("frame", "audio", "text")


@runtime_checkable
class Encoder(Protocol):
    """What every encoder offers (see the module docstring)."""

    out_dim: int
    modality: str

    def features(self, x) -> dict[str, torch.Tensor]: ...

    def __call__(self, x) -> torch.Tensor: ...


def check_encoder(name: str, encoder) -> None:
    """Raise ``TypeError`` naming ``name`` if ``encoder`` breaks the :class:`Encoder` contract."""
    missing = [a for a in ("out_dim", "modality", "features") if not hasattr(encoder, a)]
    if missing:
        raise TypeError(f"encoder {name!r} ({type(encoder).__name__}) lacks {', '.join(missing)}")
    if encoder.modality not in MODALITIES:
        raise TypeError(f"encoder {name!r}: modality {encoder.modality!r} is not one of {MODALITIES}")
