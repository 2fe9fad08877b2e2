"""Temporal order verification (Misra, Zitnick, Hebert 2016): is the middle frame between the others?

Each clip of the batch (``"frames"``, ``[B, T, 3, H, W]`` with ``T >= 5``: set ``data.frames``)
gives ``tuples_per_clip`` tuples of three frames, each from its own motion-weighted window, in
order or not; every frame that a tuple reads goes through one frame encoder once (the paper's
triplet Siamese network shares the tower's weights) and the tuples are read from the codes
(:func:`~multiview.objectives.temporal_order.order_picks`). A code is the encoder's last spatial
feature map averaged down to a ``grid`` x ``grid`` map, not its global pool: whether a frame
lies between two others is a question of where things are, which a global average discards (the
paper's towers end in fully connected layers over the spatial map, fc7). The encoder is a frame
encoder like any other: ``features()``, probes and retrieval read it as they read CMC's.

The head (``pairwise``, the default) reads the tuple pair by pair, as the order prediction
network of Lee et al. 2017 does (:class:`~multiview.methods.parts.PairwiseHead`): one shared
layer embeds each pair of codes, (1, 2), (2, 3) and (1, 3), and a linear layer classifies the
three pair embeddings. ``pairwise: false``
is the paper's head, one layer over the three codes concatenated. On the embedded world the
concatenated head stayed at chance over 500 steps, the pairwise one began to learn at about
450, and with four tuples per clip it reached 0.7 at step 200 (docs/pretext-chart.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec, feature_shapes
from multiview.methods.base import OneEncoder
from multiview.methods.parts import ClassifierHead, PairwiseHead
from multiview.objectives.temporal_order import N_CLASSES, WINDOW, order_loss, order_picks


class TemporalOrder(OneEncoder):
    """A frame encoder trained to tell tuples of frames in temporal order from shuffled ones.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        hidden: width of the head's hidden layer (of each pair's embedding when ``pairwise``; 0
            with ``pairwise: false``: a linear head on the concatenated codes).
        grid: side of the map each frame's last spatial features are averaged down to.
        positive_fraction: share of tuples shown in order (the rest have a frame from outside
            the outer two in the middle; the paper studies this class ratio in Sec. 4.1).
        pairwise: the head reads the codes pair by pair (Lee et al. 2017); false: concatenated
            (Misra et al. 2016).
        tuples_per_clip: tuples drawn from each clip's codes per step (each from its own
            motion-weighted window).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, hidden: int = 256, grid: int = 2,
                 positive_fraction: float = 0.5, pairwise: bool = True, tuples_per_clip: int = 4, **kwargs):
        super().__init__(encoder=encoder, view="frame", **kwargs)
        if not 0 < positive_fraction < 1:
            raise UserError(f"model.positive_fraction: expected a number in (0, 1), got {positive_fraction}")
        self.save_hyperparameters()
        if grid < 1:
            raise UserError(f"model.grid: expected a positive map side, got {grid}")
        if tuples_per_clip < 1:
            raise UserError(f"model.tuples_per_clip: expected a positive count, got {tuples_per_clip}")
        self.tuples_per_clip = tuples_per_clip
        self.positive_fraction, self.grid = positive_fraction, grid
        channels = [shape[1] for shape in feature_shapes(self.encoder).values() if len(shape) == 4][-1]
        code_dim = channels * grid * grid
        if pairwise and hidden < 1:
            raise UserError(f"model.hidden: the pairwise head needs a hidden layer, got {hidden}")
        self.head = PairwiseHead(code_dim, hidden, N_CLASSES) if pairwise else \
            ClassifierHead(3 * code_dim, hidden, N_CLASSES)
        self.pairwise = pairwise

    def codes(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, C grid^2]``: the last spatial feature map of each image, averaged to ``grid`` x ``grid``."""
        maps = [h for h in self.encoder.features(images).values() if h.ndim == 4]
        return F.adaptive_avg_pool2d(maps[-1], self.grid).flatten(1)

    def clips(self, batch: dict) -> torch.Tensor:
        """The batch's clips ``[B, T, 3, H, W]``, ``T >= 5``."""
        x = self.inputs(batch, clips=True)
        if x.ndim != 5 or x.shape[1] < WINDOW:
            got = "single frames" if x.ndim != 5 else f"clips of {x.shape[1]} frames"
            raise UserError(f"temporal order needs clips of at least {WINDOW} frames (set data.frames, "
                            f"e.g. 8); the batch has {got}")
        return x

    def task(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [B * tuples_per_clip, 2], whether each tuple is in order)``."""
        clips = self.clips(batch)
        clip, picks, target = order_picks(clips, self.positive_fraction, self.tuples_per_clip)
        used = torch.zeros(clips.shape[:2], dtype=torch.bool, device=clips.device)
        used[clip[:, None], picks] = True
        codes = self.codes(clips[used])  # every frame a tuple reads, through the tower once
        row = torch.full(used.shape, -1, dtype=torch.long, device=clips.device)
        row[used] = torch.arange(len(codes), device=clips.device)
        tuples = codes[row[clip[:, None], picks]]  # [B * tuples_per_clip, 3, D], frames in tuple order
        return self.head(tuples if self.pairwise else tuples.flatten(1)), target

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        logits, target = self.task(batch)
        return {"loss": order_loss(logits, target), "acc": (logits.argmax(1) == target).float().mean()}
