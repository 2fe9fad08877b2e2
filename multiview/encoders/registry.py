"""Encoders by name, built from a typed spec.

A recipe names an encoder and its size, e.g. ``{name: small_resnet, width: 16}`` or
``{name: resnet18}``; what follows from the data (input channels of a view, the audio's sample
rate) is passed by the method. Registered names:

- ``small_resnet``: :class:`~multiview.encoders.vision.SmallResNet` in a frame encoder (low-resolution frames)
- ``resnet18`` ... ``resnet152``: any torchvision ResNet (torchvision's parameter names);
  ``resnet18_cifar`` ... ``resnet152_cifar``: the same with the 32 px stem (3x3 stride-1, no max pool)
- ``alexnet``: :class:`~multiview.encoders.alexnet.AlexNetEncoder` (Krizhevsky et al. 2012, scaled)
- ``logmel_resnet``: :class:`~multiview.encoders.audio.AudioEncoder` (log-mel + small ResNet)
- ``word_bag``: :class:`~multiview.encoders.text.TextEncoder` (mean of word vectors)

A new family registers itself with ``@register("name")`` on a builder
``(spec, in_channels, sample_rate) -> encoder``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from multiview.core.contracts import check_encoder
from multiview.core.errors import UserError
from multiview.encoders.alexnet import AlexNetEncoder
from multiview.encoders.audio import AudioEncoder
from multiview.encoders.text import TextEncoder
from multiview.encoders.vision import RESNETS, FrameEncoder


@dataclass
class EncoderSpec:
    """One encoder: a registered name and its size. A field left unset (``None``) takes the
    method's default for that view, then the base default shown here in brackets.

    Args:
        name: registered family: small_resnet, resnet18/34/50/101/152 (and _cifar), alexnet, logmel_resnet,
            word_bag [small_resnet; logmel_resnet for an audio view, word_bag for a caption view].
        width: channels of the first stage (small_resnet, alexnet, logmel_resnet) [32].
        n_mels: mel bands of the log-mel front end (logmel_resnet) [64].
        vectors: word2vec .bin/.txt file whose vectors form a frozen word table (word_bag); empty
            for a learned table over hashed words [empty].
        dim: width of the learned word table (word_bag without vectors) [128].
    """

    name: str | None = None
    width: int | None = None
    n_mels: int | None = None
    vectors: str | None = None
    dim: int | None = None


BASE = {"name": "small_resnet", "width": 32, "n_mels": 64, "vectors": "", "dim": 128}
Builder = Callable[[EncoderSpec, int, int], nn.Module]
REGISTRY: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    def add(builder: Builder) -> Builder:
        REGISTRY[name] = builder
        return builder

    return add


def names() -> list[str]:
    return sorted(REGISTRY)


def _given(spec: EncoderSpec | dict | str | None) -> dict:
    """The fields ``spec`` sets (``None`` ones left out)."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        return {"name": spec}
    if isinstance(spec, EncoderSpec):
        spec = asdict(spec)
    if isinstance(spec, dict):
        unknown = set(spec) - set(BASE)
        if unknown:
            raise UserError(f"encoder spec: unknown keys {sorted(unknown)}; expected {', '.join(BASE)}")
        return {k: v for k, v in spec.items() if v is not None}
    raise UserError(f"encoder spec: expected a dict or EncoderSpec, got {type(spec).__name__}")


def as_spec(spec: EncoderSpec | dict | str | None, default: EncoderSpec | dict | None = None) -> EncoderSpec:
    """A complete spec: the fields ``spec`` sets, then those ``default`` sets, then :data:`BASE`."""
    return EncoderSpec(**{**BASE, **_given(default), **_given(spec)})


def plain(spec: EncoderSpec | dict | str | None) -> dict | None:
    """The fields a spec sets, as a plain dict (what hyperparameters and checkpoints keep)."""
    return None if spec is None else _given(spec)


def build(spec: EncoderSpec | dict | str | None, in_channels: int = 3, sample_rate: int = 16000) -> nn.Module:
    """The encoder ``spec`` names, for an input of ``in_channels`` (images) or ``sample_rate`` (audio)."""
    spec = as_spec(spec)
    if spec.name not in REGISTRY:
        raise UserError(f"encoder {spec.name!r}: expected one of {', '.join(names())}")
    encoder = REGISTRY[spec.name](spec, in_channels, sample_rate)
    check_encoder(spec.name, encoder)
    return encoder


def feature_shapes(encoder: nn.Module, in_channels: int = 3, side: int = 64) -> dict[str, torch.Size]:
    """The shape of each ``features()`` output for one ``side`` x ``side`` image, taken in eval
    mode (batch norm has no statistics for one sample) and with the encoder's mode restored."""
    was = encoder.training
    with torch.no_grad():
        maps = encoder.eval().features(torch.zeros(1, in_channels, side, side))
    encoder.train(was)
    return {name: h.shape for name, h in maps.items()}


@register("small_resnet")
def _small_resnet(spec: EncoderSpec, in_channels: int, sample_rate: int) -> nn.Module:
    return FrameEncoder("small", spec.width, in_channels=in_channels, normalize=in_channels == 3)


for _arch in RESNETS:
    register(_arch)(lambda spec, in_channels, sample_rate, arch=_arch: FrameEncoder(arch, in_channels=in_channels))
    register(f"{_arch}_cifar")(lambda spec, in_channels, sample_rate, arch=_arch: FrameEncoder(
        arch, in_channels=in_channels, small_images=True))


@register("alexnet")
def _alexnet(spec: EncoderSpec, in_channels: int, sample_rate: int) -> nn.Module:
    return AlexNetEncoder(spec.width, in_channels=in_channels, normalize=in_channels == 3)


@register("logmel_resnet")
def _logmel_resnet(spec: EncoderSpec, in_channels: int, sample_rate: int) -> nn.Module:
    return AudioEncoder(sample_rate, spec.n_mels, spec.width)


@register("word_bag")
def _word_bag(spec: EncoderSpec, in_channels: int, sample_rate: int) -> nn.Module:
    return TextEncoder(vectors=spec.vectors or None, dim=spec.dim)
