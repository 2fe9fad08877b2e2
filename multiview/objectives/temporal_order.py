"""Temporal order verification (Misra, Zitnick, Hebert, ECCV 2016, "Shuffle and Learn:
unsupervised learning using temporal order verification").

From a window of five frames ``(a, b, c, d, e)`` of one clip (Sec. 3.1, Fig. 2), a positive tuple
is ``(b, c, d)`` and a negative one ``(b, a, d)`` or ``(b, e, d)``: the same two outer frames
with a middle frame taken from outside them. Either tuple may also be shown reversed
(``(d, c, b)`` is in order), so the direction of time is not the cue; only whether the middle
frame lies between the other two. A triplet Siamese network embeds each frame with one shared
tower, concatenates the three codes and classifies the tuple (2 classes, cross-entropy).

Windows are drawn with a bias towards motion (Sec. 3.1: "we use coarse frame level optical flow
as a proxy to measure the motion between frames ... to bias our sampling towards high motion
windows"): here a window's weight is the mean absolute difference of its consecutive frames, a
proxy for flow magnitude that costs nothing to compute on the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WINDOW = 5
N_CLASSES = 2  # 0: shuffled, 1: in order


def frame_motion(frames: torch.Tensor) -> torch.Tensor:
    """``[B, T - 1]``: mean absolute difference between consecutive frames of ``[B, T, C, H, W]``."""
    return (frames[:, 1:] - frames[:, :-1]).abs().flatten(2).mean(2)


def window_starts(frames: torch.Tensor, generator: torch.Generator | None = None, per_clip: int = 1) -> torch.Tensor:
    """``[B, per_clip]`` (``[B]`` when ``per_clip`` is 1): the first frame of ``WINDOW``-frame
    windows of each clip, drawn with replacement with probability proportional to the window's
    motion (the sum of its four frame differences; uniform when a clip does not move)."""
    b, t = frames.shape[:2]
    if t < WINDOW:
        raise ValueError(f"temporal order needs clips of at least {WINDOW} frames, got {t}")
    motion = frame_motion(frames.float())
    weight = motion.unfold(1, WINDOW - 1, 1).sum(2)  # [B, T - WINDOW + 1]
    weight = weight + 1e-6 * weight.sum(1, keepdim=True).clamp_min(1e-12)
    starts = torch.multinomial(weight.cpu(), per_clip, replacement=True, generator=generator).to(frames.device)
    return starts.squeeze(1) if per_clip == 1 else starts


def order_picks(frames: torch.Tensor, positive_fraction: float = 0.5, per_clip: int = 1,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(clip [N], picks [N, 3], in_order [N])``, ``N = B * per_clip``: for each of ``per_clip``
    motion-weighted windows ``(a, b, c, d, e)`` of each clip of ``[B, T, ...]``, the frame indices
    of one tuple: with probability ``positive_fraction`` ``(b, c, d)`` (label 1), otherwise
    ``(b, a, d)`` or ``(b, e, d)`` (label 0), each reversed with probability one half."""
    b = len(frames)
    start = window_starts(frames, generator, per_clip).reshape(-1)
    n = len(start)
    draw = torch.rand(3, n, generator=generator).to(frames.device)
    positive = draw[0] < positive_fraction
    outer = torch.where(draw[1] < 0.5, 0, 4).to(frames.device)  # a or e as the misplaced middle
    middle = torch.where(positive, torch.full_like(outer, 2), outer)
    offsets = torch.stack([torch.ones_like(middle), middle, torch.full_like(middle, 3)], 1)  # [N, 3]
    reverse = draw[2] < 0.5
    offsets = torch.where(reverse[:, None], offsets.flip(1), offsets)
    clip = torch.arange(b, device=frames.device).repeat_interleave(per_clip)
    return clip, start[:, None] + offsets, positive.long()


def order_tuples(frames: torch.Tensor, positive_fraction: float = 0.5,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tuples [B, 3, C, H, W], in_order [B])`` from clips ``[B, T, C, H, W]``, one per clip
    (:func:`order_picks`)."""
    clip, picks, in_order = order_picks(frames, positive_fraction, 1, generator)
    return frames[clip[:, None], picks], in_order


def order_loss(logits: torch.Tensor, in_order: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the 2-way order classifier (Sec. 3.2)."""
    return F.cross_entropy(logits, in_order)
