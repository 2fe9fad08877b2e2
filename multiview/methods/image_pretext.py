"""What the image-to-image pretext methods share: one frame encoder, a convolutional decoder
from its deepest feature map, the batch's image key, and a PNG of held-out examples.

The same method trains on image batches (key ``"image"``) and on video frames (key ``"frame"``):
the key is taken from the first training batch, kept in the checkpoint, and names the encoder in
:meth:`ImagePretext.encoders`, so reports and ``multiview eval`` feed it through
:func:`multiview.views.channels.get_view` as they would any frame encoder.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from multiview.encoders.registry import EncoderSpec, build, feature_shapes, plain
from multiview.core.errors import UserError
from multiview.core.io import atomic_write
from multiview.methods.base import Method

IMAGE_KEYS = ("image", "frame")


class UpDecoder(nn.Module):
    """``n_up`` doublings (nearest upsampling, 3x3 conv, BatchNorm, ReLU; channels halved down to
    ``min_width``), then a 3x3 convolution to ``out_channels``; resized to ``size`` when given."""

    def __init__(self, in_channels: int, out_channels: int, n_up: int, min_width: int = 32):
        super().__init__()
        layers, c = [], in_channels
        for _ in range(n_up):
            nxt = max(min_width, c // 2)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, nxt, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(nxt), nn.ReLU(inplace=True)]
            c = nxt
        layers.append(nn.Conv2d(c, out_channels, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        y = self.net(h)
        if size is not None and tuple(y.shape[-2:]) != tuple(size):
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return y


class ImagePretext(Method):
    """Base of the pretexts that encode an image and decode a map: builds the encoder (``in_channels``
    inputs), finds the shape of its ``layer`` map, and names it by the batch's image key.

    Args:
        encoder: the frame encoder, e.g. ``{name: small_resnet, width: 32}``.
        layer: the ``features()`` map the decoder reads (default the deepest before pooling).
        in_channels: channels the encoder takes (3: RGB; 1: lightness).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method`.
    """

    png_name = "examples.png"

    def __init__(self, encoder: EncoderSpec | dict | None = None, layer: str = "stage4",
                 in_channels: int = 3, **kwargs):
        super().__init__(**kwargs)
        try:
            self.encoder = build(plain(encoder) or EncoderSpec(), in_channels)
        except (ValueError, TypeError) as e:
            raise UserError(f"model.encoder: {e}") from None
        if self.encoder.modality != "frame":
            raise UserError(f"model.encoder: expected a frame encoder, got a {self.encoder.modality} one")
        maps = feature_shapes(self.encoder, in_channels)
        if layer not in maps or layer == "pool" or len(maps[layer]) != 4:
            spatial = [k for k, v in maps.items() if len(v) == 4]
            raise UserError(f"model.layer: expected one of {', '.join(spatial)}, got {layer!r}")
        self.layer = layer
        self.layer_channels = maps[layer][1]
        self.layer_stride = 64 / maps[layer][-1]
        self.image_key = "image"

    def ups(self, out_stride: float = 1.0) -> int:
        """Doublings that take the ``layer`` map back to ``1 / out_stride`` of the input size."""
        return max(0, round(math.log2(self.layer_stride / out_stride)))

    def images(self, batch: dict) -> torch.Tensor:
        """The batch's ``[B, 3, H, W]`` images (key "image", else "frame"); remembers the key."""
        for key in IMAGE_KEYS:
            if key in batch:
                self.image_key = key
                return batch[key]
        raise UserError(f"batch: expected an 'image' or 'frame' key, got {', '.join(batch)}")

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(x)[self.layer]

    def encoders(self) -> dict[str, nn.Module]:
        return {self.image_key: self.encoder}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["image_key"] = self.image_key

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.image_key = checkpoint.get("image_key", "image")

    # --- the held-out PNG -----------------------------------------------------------------
    def example_rows(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Rows of ``[N, 3, H, W]`` images in [0, 1] for the PNG (input, output, ground truth...)."""
        raise NotImplementedError

    @torch.no_grad()
    def write_examples(self, path: Path, images: torch.Tensor) -> Path:
        """One PNG, a row per :meth:`example_rows` entry, a column per image; written atomically."""
        was = self.training
        self.eval()
        try:
            rows = [r.float().clamp(0, 1).cpu() for r in self.example_rows(images.to(self.device))]
        finally:
            self.train(was)
        grid = torchvision.utils.make_grid(torch.cat(rows), nrow=len(images), padding=1)
        return atomic_write(path, lambda f: torchvision.utils.save_image(grid, f, format="png"))

    def on_fit_end(self) -> None:
        trainer = self.trainer
        if trainer is None or not trainer.is_global_zero or trainer.interrupted or trainer.datamodule is None:
            return
        try:
            batch = next(iter(trainer.datamodule.val_dataloader()))
        except (StopIteration, TypeError, AttributeError):
            return
        images = self.images(batch)[:8]
        self.write_examples(Path(trainer.default_root_dir) / self.png_name, images)
