"""Temporal order verification (Misra, Zitnick, Hebert 2016): is the middle frame between the others?

Each clip of the batch (``"frames"``, ``[B, T, 3, H, W]`` with ``T >= 5``: set ``data.frames``)
gives one tuple of three frames from a motion-weighted window, in order or not
(:func:`~multiview.objectives.temporal_order.order_tuples`). One frame encoder embeds all three
(the paper's triplet Siamese network shares the tower's weights), and a head classifies the
three codes concatenated in tuple order. A code is the encoder's last spatial feature map
averaged down to a ``grid`` x ``grid`` map, not its global pool: whether a frame lies between
two others is a question of where things are, which a global average discards (the paper's
towers end in fully connected layers over the spatial map, fc7). The encoder is a frame encoder like
any other: ``features()``, probes and retrieval read it as they read CMC's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from multiview.encoders.registry import EncoderSpec, feature_shapes
from multiview.methods.pretext import PretextMethod, head
from multiview.objectives.temporal_order import N_CLASSES, WINDOW, order_loss, order_tuples


class TemporalOrder(PretextMethod):
    """A frame encoder trained to tell tuples of frames in temporal order from shuffled ones.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        hidden: width of the head's hidden layer on the concatenated codes (0: a linear head).
        grid: side of the map each frame's last spatial features are averaged down to.
        positive_fraction: share of tuples shown in order (the rest have a frame from outside
            the outer two in the middle; the paper studies this class ratio in Sec. 4.1).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, hidden: int = 256, grid: int = 2,
                 positive_fraction: float = 0.5, **kwargs):
        super().__init__(encoder=encoder, view="frame", **kwargs)
        if not 0 < positive_fraction < 1:
            raise ValueError(f"model.positive_fraction: expected a number in (0, 1), got {positive_fraction}")
        self.save_hyperparameters()
        if grid < 1:
            raise ValueError(f"model.grid: expected a positive map side, got {grid}")
        self.positive_fraction, self.grid = positive_fraction, grid
        channels = [shape[1] for shape in feature_shapes(self.encoder).values() if len(shape) == 4][-1]
        self.head = head(3 * channels * grid * grid, hidden, N_CLASSES)

    def codes(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, C grid^2]``: the last spatial feature map of each image, averaged to ``grid`` x ``grid``."""
        maps = [h for h in self.encoder.features(images).values() if h.ndim == 4]
        return F.adaptive_avg_pool2d(maps[-1], self.grid).flatten(1)

    def clips(self, batch: dict) -> torch.Tensor:
        x = batch.get("frames")
        if x is None or x.ndim != 5 or x.shape[1] < WINDOW:
            got = "single frames" if x is None else f"clips of {x.shape[1]} frames"
            raise ValueError(f"temporal order needs clips of at least {WINDOW} frames (set data.frames, "
                             f"e.g. 8); the batch has {got}")
        return x

    def task(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tuples, target = order_tuples(self.clips(batch), self.positive_fraction)
        b = len(tuples)
        codes = self.codes(tuples.flatten(0, 1)).reshape(b, -1)  # frames in tuple order
        logits = self.head(codes)
        return order_loss(logits, target), logits, target
