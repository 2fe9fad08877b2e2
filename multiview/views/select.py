"""The one place a batch is read by view name.

A view is named in a recipe (``model.view``, CMC's ``model.views``) and read from a batch by
:func:`get_view`. Image batches give ``image`` and the colour views of Tian et al. 2020
(Sec. 4.1), ``L`` and ``ab`` (:mod:`multiview.views.channels`); video batches give ``frame``,
``audio`` (waveform) and ``caption`` (list of strings); clips of two or more frames
(``"frames"``, ``[B, T, 3, H, W]``) give each clip's first frame as the ``frame`` view.

A single-encoder method asks for ``auto``: :func:`resolve_view` names the view the batch holds
(``image`` from an image folder, ``frame`` from video), once, at the first batch; the method keeps
that name in its checkpoint so evaluation feeds it the same key.
"""

from __future__ import annotations

import torch

from multiview.core.errors import UserError
from multiview.views.channels import normalized_lab

VIEW_SOURCES = {"L": "image", "ab": "image", "rgb": "image", "image": "image", "frame": "frame",
                "audio": "audio", "caption": "caption"}
PICTURE_VIEWS = ("image", "frame")


def view_channels(name: str) -> int:
    """Input channels of view ``name``'s encoder (1 for ``L``, 2 for ``ab``, else 3)."""
    return {"L": 1, "ab": 2}.get(name, 3)


def resolve_view(batch: dict, view: str) -> str:
    """The view name that ``view`` means for ``batch``: itself, or for ``auto`` the picture the
    batch holds (``image``, else ``frame``, from ``frame`` or ``frames``)."""
    if view != "auto":
        get_view(batch, view)  # fails in one line when the batch cannot give it
        return view
    for key in ("image", "frame", "frames"):
        if key in batch:
            return key.rstrip("s")
    raise UserError(f"batch: expected an 'image', 'frame' or 'frames' key, got {', '.join(map(str, batch))}")


def get_view(batch: dict, name: str, cache: dict | None = None, clips: bool = False):
    """What view ``name`` feeds its encoder: a tensor (or list of strings for ``caption``).

    ``clips=True`` keeps a ``frames`` clip whole (``[B, T, 3, H, W]``) instead of its first frame.
    ``cache`` (a dict kept for one batch) shares the L*a*b* conversion between ``L`` and ``ab``."""
    if name not in VIEW_SOURCES:
        raise UserError(f"view {name!r}: expected one of {', '.join(VIEW_SOURCES)}")
    source = VIEW_SOURCES[name]
    if source == "frame" and "frame" not in batch and "frames" in batch:
        frames = batch["frames"]
        return frames if clips else frames[:, 0]
    if source not in batch:
        raise UserError(f"view {name!r} needs batch key {source!r}; the batch has {', '.join(map(str, batch))}")
    if name in ("L", "ab"):
        cache = {} if cache is None else cache
        if "lab" not in cache:
            cache["lab"] = normalized_lab(batch["image"])
        return cache["lab"][:, :1] if name == "L" else cache["lab"][:, 1:]
    return batch[source]


def batch_size(batch) -> int:
    """The number of samples in ``batch`` (the length of its first tensor or list)."""
    if isinstance(batch, dict):
        for value in batch.values():
            if torch.is_tensor(value) and value.ndim:
                return len(value)
        for value in batch.values():
            if isinstance(value, (list, tuple)):
                return len(value)
    return len(batch) if hasattr(batch, "__len__") else 1
