"""Read encoders written by ``multiview export`` (:mod:`multiview.cli.export`).

An exported file ``FILE`` may have a card ``FILE.json`` beside it (method, recipe, data, metrics,
and what the weights expect as input). A torchvision ResNet is exported with torchvision's own
parameter names (``conv1.weight``, ``layer1.0...``, no ``fc``); :func:`as_encoder_state` maps
it back to a :class:`multiview.encoders.vision.FrameEncoder` state, with the input
normalisation the card names (ImageNet's mean and std when there is no card).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from multiview.core.errors import UserError


def card_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def read_card(path: str | Path) -> dict:
    """The card beside an exported file, or ``{}``."""
    card = card_path(path)
    if not card.is_file():
        return {}
    try:
        data = json.loads(card.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{card}: not a readable JSON card ({e})") from None
    if not isinstance(data, dict):
        raise UserError(f"{card}: expected a JSON object")
    return data


def is_torchvision_resnet(state: dict) -> bool:
    return "conv1.weight" in state and any(k.startswith("layer1.") for k in state)


def as_encoder_state(path: str | Path, state: dict) -> dict:
    """``state`` as a FrameEncoder state when it is a torchvision ResNet's; else unchanged."""
    if not is_torchvision_resnet(state):
        return state
    from multiview.encoders.vision import IMAGENET_MEAN, IMAGENET_STD

    state = {f"net.{k}": v for k, v in state.items() if not k.startswith("fc.")}
    norm = read_card(path).get("input", {}).get("normalize", {"mean": IMAGENET_MEAN, "std": IMAGENET_STD})
    if norm:
        state["mean"] = torch.tensor(norm["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        state["std"] = torch.tensor(norm["std"], dtype=torch.float32).view(1, 3, 1, 1)
    else:
        state["mean"], state["std"] = torch.zeros(1), torch.ones(1)
    return state
