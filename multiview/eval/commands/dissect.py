"""Look inside a vision encoder: what drives a unit, and where it looks.

- Top-k activating images per unit and the image patches that drive them (Zeiler & Fergus 2014,
  "Visualizing and Understanding Convolutional Networks", Sec. 4): each image's score for a unit
  is the unit's maximum over spatial positions; the patch is the unit's receptive field around
  the position of that maximum.
- The empirical receptive field by occlusion (Zhou, Khosla, Lapedriza, Oliva & Torralba 2015,
  "Object Detectors Emerge in Deep Scene CNNs", Sec. 3.1): a small occluder (filled with the
  image's mean colour) slides over the image; the drop of the unit's activation at its peak
  position, per occluder position, is the discrepancy map. Maps of the top images, centred on
  each peak, are averaged; the region above half the maximum gives the field's size.

``multiview eval dissect --checkpoint RUN --data cifar10 --layer stage2 --units 0,1,2`` writes
``dissect.png`` (top images with the field boxed), ``patches.png``, ``occlusion.png`` and
``dissect.json`` (per unit: top images, their labels, label purity, field size).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from multiview.core.io import save_figure, write_json
from multiview.core.outputs import claim_output
from multiview.eval.commands import EVAL
from multiview.eval.core.features import as_loader, device_of
from multiview.eval.metrics.ranking import top_indices


@torch.no_grad()
def unit_maxima(encoder: nn.Module, data, layer: str, batch_size: int = 128) -> dict[str, torch.Tensor]:
    """Per image and unit, the maximum activation of ``layer`` and its (row, col) position.

    Returns ``{"max": [N, C], "pos": long [N, C, 2], "label": [N], "images": [N, ...]}`` and the
    feature map and input sizes as ``"fmap_size"`` and ``"input_size"``.
    """
    device = device_of(encoder)
    encoder.eval()
    maxima, pos, labels, images = [], [], [], []
    fmap = None
    for batch in as_loader(data, batch_size):
        x = batch["input"]
        h = encoder.features(x.to(device))[layer].float().cpu()  # [B, C, H, W]
        fmap = h.shape[-2:]
        m, idx = h.flatten(2).max(2)
        maxima.append(m)
        pos.append(torch.stack([idx // fmap[1], idx % fmap[1]], -1))
        labels.append(torch.as_tensor(batch["label"]))
        images.append(x)
    images = torch.cat(images)
    return {"max": torch.cat(maxima), "pos": torch.cat(pos), "label": torch.cat(labels), "images": images,
            "fmap_size": torch.tensor(tuple(fmap)), "input_size": torch.tensor(tuple(images.shape[-2:]))}


def top_images(maxima: torch.Tensor, unit: int, k: int = 8) -> torch.Tensor:
    """Indices of the ``k`` images on which ``unit`` fires most."""
    return top_indices(maxima[:, unit], k)


def centre_in_input(pos: torch.Tensor, fmap_size, input_size) -> torch.Tensor:
    """Input-pixel (row, col) of the centre of feature position ``pos`` (stride = input / map)."""
    stride = torch.tensor(tuple(input_size), dtype=torch.float) / torch.tensor(tuple(fmap_size), dtype=torch.float)
    return ((pos.float() + 0.5) * stride - 0.5).round().long()


def crop(image: torch.Tensor, centre: torch.Tensor, size: int) -> torch.Tensor:
    """A ``size x size`` patch of ``image [C, H, W]`` centred on ``centre``, zero outside."""
    half = size // 2
    padded = F.pad(image, (half, half, half, half))
    r, c = int(centre[0]), int(centre[1])
    return padded[:, r:r + size, c:c + size]


@torch.no_grad()
def occlusion_map(encoder: nn.Module, layer: str, unit: int, image: torch.Tensor, position: tuple[int, int],
                  occluder: int = 5, stride: int = 1, batch_size: int = 256) -> torch.Tensor:
    """``[H, W]`` drop of ``unit``'s activation at feature ``position`` when an ``occluder``-sized
    square centred on each pixel (every ``stride``-th) is filled with the image's mean colour."""
    device = device_of(encoder)
    encoder.eval()
    _, h, w = image.shape
    fill = image.mean((1, 2), keepdim=True)
    base = encoder.features(image[None].to(device))[layer][0, unit, position[0], position[1]].item()
    centres = [(r, c) for r in range(0, h, stride) for c in range(0, w, stride)]
    drops = torch.zeros(h, w)
    half = occluder // 2
    for start in range(0, len(centres), batch_size):
        chunk = centres[start:start + batch_size]
        x = image.repeat(len(chunk), 1, 1, 1)
        for i, (r, c) in enumerate(chunk):
            x[i, :, max(r - half, 0):r + half + 1, max(c - half, 0):c + half + 1] = fill
        act = encoder.features(x.to(device))[layer][:, unit, position[0], position[1]].float().cpu()
        for i, (r, c) in enumerate(chunk):
            drops[r:r + stride, c:c + stride] = base - act[i]
    return drops


def centred_average(maps: list[torch.Tensor], centres: list[torch.Tensor]) -> torch.Tensor:
    """Average of discrepancy maps re-centred on each map's peak position (size ``2H-1 x 2W-1``)."""
    h, w = maps[0].shape
    acc = torch.zeros(2 * h - 1, 2 * w - 1)
    for m, (r, c) in zip(maps, centres):
        r, c = int(r), int(c)
        acc[h - 1 - r:2 * h - 1 - r, w - 1 - c:2 * w - 1 - c] += m.clamp_min(0)
    return acc / len(maps)


def field_size(avg: torch.Tensor, threshold: float = 0.5) -> int:
    """Side of the square bounding the region above ``threshold`` of the averaged map's peak."""
    if avg.max() <= 0:
        return 1
    rows, cols = torch.nonzero(avg >= threshold * avg.max(), as_tuple=True)
    return int(max(rows.max() - rows.min(), cols.max() - cols.min())) + 1


def dissect_unit(encoder: nn.Module, layer: str, unit: int, stats: dict, k: int = 8, occluder: int = 5,
                 occlusion_images: int = 4, stride: int = 1) -> dict:
    """Top images, peak centres, occlusion maps and empirical field size of one unit."""
    top = top_images(stats["max"], unit, k)
    centres = [centre_in_input(stats["pos"][i, unit], stats["fmap_size"], stats["input_size"]) for i in top]
    maps = [occlusion_map(encoder, layer, unit, stats["images"][i], tuple(stats["pos"][i, unit].tolist()),
                          occluder, stride) for i in top[:occlusion_images]]
    size = field_size(centred_average(maps, centres[:len(maps)]))
    labels = stats["label"][top]
    purity = float((labels == labels.mode().values).float().mean())
    return {"top": top, "centres": centres, "maps": maps, "field": max(size, 3), "labels": labels, "purity": purity}


def plot_units(stats: dict, units: dict[int, dict], path: Path, patches: bool = False) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    k = max(len(u["top"]) for u in units.values())
    fig, axes = plt.subplots(len(units), k, figsize=(1.2 * k, 1.3 * len(units)), squeeze=False)
    for row, (unit, u) in enumerate(units.items()):
        for col, (i, c) in enumerate(zip(u["top"].tolist(), u["centres"])):
            img = stats["images"][i]
            ax = axes[row, col]
            shown = crop(img, c, u["field"]) if patches else img
            ax.imshow(shown.permute(1, 2, 0).clamp(0, 1).numpy() if shown.shape[0] == 3 else shown[0].numpy(),
                      cmap="gray")
            if not patches:
                half = u["field"] // 2
                ax.add_patch(Rectangle((int(c[1]) - half - 0.5, int(c[0]) - half - 0.5), u["field"], u["field"],
                                       fill=False, color="yellow", lw=1))
        axes[row, 0].set_ylabel(f"unit {unit}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("image patches driving each unit" if patches else "top activating images (field boxed)", fontsize=9)
    return save_figure(path, fig)


def plot_occlusion(stats: dict, units: dict[int, dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(u["maps"]) for u in units.values())
    fig, axes = plt.subplots(len(units), 2 * n, figsize=(1.2 * 2 * n, 1.3 * len(units)), squeeze=False)
    for row, (unit, u) in enumerate(units.items()):
        for j, (i, m) in enumerate(zip(u["top"].tolist(), u["maps"])):
            axes[row, 2 * j].imshow(stats["images"][i].permute(1, 2, 0).clamp(0, 1).numpy())
            axes[row, 2 * j + 1].imshow(m.numpy(), cmap="hot")
        axes[row, 0].set_ylabel(f"unit {unit}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("occlusion discrepancy maps (image, drop of the unit's peak activation)", fontsize=9)
    return save_figure(path, fig)


def main(argv: list[str]) -> int:
    from multiview.core.errors import UserError
    from multiview.eval.core.checkpoint import eval_dir, load_encoder
    from multiview.eval.core.datasets import add_data_args, data_tag, eval_splits

    parser = argparse.ArgumentParser(prog="multiview eval dissect", description=EVAL["dissect"].help)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--units", default="", help="comma-separated units (default: the 6 most active)")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--n", type=int, default=1000, help="test images to search")
    parser.add_argument("--occluder", type=int, default=5, help="occluder side in pixels")
    parser.add_argument("--stride", type=int, default=1, help="occluder step in pixels")
    add_data_args(parser)
    parser.set_defaults(layer="stage2")
    args = parser.parse_args(argv)
    if args.out:  # a folder of the user's own files is refused before any work
        claim_output(args.out, "eval")
    enc, modality = load_encoder(args.checkpoint, args.encoder)
    if modality != "frame":
        raise UserError(f"dissect looks at image encoders; --checkpoint {args.checkpoint} gave a {modality} encoder")
    _, _, test, classes = eval_splits(args, modality, enc, test_limit=args.n)
    stats = unit_maxima(enc, test, args.layer)
    if stats["max"].ndim != 2 or len(stats["fmap_size"]) != 2:
        raise UserError(f"--layer {args.layer}: expected a spatial layer")
    try:
        units = [int(u) for u in args.units.split(",") if u] or top_indices(stats["max"].mean(0), 6).tolist()
    except ValueError:
        raise UserError(f"--units {args.units!r}: expected comma-separated integers") from None
    if max(units) >= stats["max"].shape[1]:
        raise UserError(f"--units: layer {args.layer} has {stats['max'].shape[1]} units")
    found = {u: dissect_unit(enc, args.layer, u, stats, args.top, args.occluder, stride=args.stride) for u in units}
    out = Path(args.out) if args.out else eval_dir(args.checkpoint, "dissect", data_tag(args, modality))
    result = {}
    for u, d in found.items():
        result[f"dissect/unit{u}/label_purity"] = d["purity"]
        result[f"dissect/unit{u}/field_px"] = float(d["field"])
        print(f"  unit {u:>3}: field {d['field']:>2} px, top labels "
              f"{[classes[int(c)] for c in d['labels']]}, purity {d['purity']:.2f}")
    write_json(out / "dissect.json", result)
    plot_units(stats, found, out / "dissect.png")
    plot_units(stats, found, out / "patches.png", patches=True)
    plot_occlusion(stats, found, out / "occlusion.png")
    print(f"wrote {out}/dissect.png, patches.png, occlusion.png, dissect.json")
    return 0
