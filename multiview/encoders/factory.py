"""One encoder per view name: what CMC and other multi-view methods build from a recipe."""

from __future__ import annotations

import torch.nn as nn

from multiview.encoders.audio import AudioEncoder
from multiview.encoders.vision import FrameEncoder
from multiview.views import view_channels

IMAGE_VIEWS = ("frame", "rgb", "image", "L", "ab")


def build_encoder(view: str, arch: str = "small", width: int = 32, split_width: bool = True,
                  audio_width: int = 32, sample_rate: int = 16000, n_mels: int = 64,
                  text_vectors: str | None = None, text_dim: int = 128) -> nn.Module:
    """An encoder with ``.out_dim`` for ``view``.

    ``L`` and ``ab`` get the split encoders of Tian et al. 2020 (Sec. 4.1): each half the width of
    the full network, so the pair costs about what one RGB encoder costs.
    """
    if view in IMAGE_VIEWS:
        channels = view_channels(view)
        w = width // 2 if (split_width and view in ("L", "ab")) else width
        return FrameEncoder(arch, w, in_channels=channels, normalize=channels == 3)
    if view == "audio":
        return AudioEncoder(sample_rate, n_mels, audio_width)
    if view == "caption":
        from multiview.encoders.text import TextEncoder

        return TextEncoder(vectors=text_vectors, dim=text_dim)
    raise ValueError(f"view {view!r}: expected one of {', '.join(IMAGE_VIEWS)}, audio, caption")
