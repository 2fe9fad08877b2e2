"""Fine-tuning a pretrained encoder on a labelled task, against training from scratch.

The transfer protocol of Donahue et al. 2014 / Yosinski et al. 2014 ("How transferable are
features in deep neural networks?"): a new linear head replaces the pretraining head (the task's
outputs differ), a new first convolution replaces the old one when the input channels differ,
and then either every layer is trained (``full``), only the later half of the encoder's
parameters and the head (``partial``; the earlier layers stay frozen, batch-norm statistics
included), or the same architecture is trained from random init (``scratch``).

Training is :func:`multiview.eval.core.training.train_classifier`, the supervised baseline's loop;
its images are augmented by the project's pipeline (:class:`multiview.views.augment.ImageAugment`,
crop and flip only, seeded from ``(seed, step)``), not by code of its own.

``multiview eval finetune --checkpoint RUN --data cifar10 --modes full,partial,scratch`` writes
``finetune.json`` and ``finetune.png`` (test top-1 per mode).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.core.io import write_json
from multiview.core.outputs import claim_output
from multiview.eval.commands import EVAL
from multiview.eval.core.checkpoint import eval_dir, load_encoder
from multiview.eval.core.datasets import add_data_args, data_tag, eval_splits
from multiview.eval.core.embed import random_like
from multiview.eval.core.plots import plot_bars, print_table
from multiview.eval.core.training import accuracy, new_head, train_classifier

MODES = ("full", "partial", "scratch")
HELP = EVAL["finetune"].help


def replace_first_conv(encoder: nn.Module, in_channels: int) -> nn.Module:
    """Give ``encoder`` a freshly initialised first ``Conv2d`` taking ``in_channels`` (in place)."""
    for parent in encoder.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                if child.in_channels != in_channels:
                    new = nn.Conv2d(in_channels, child.out_channels, child.kernel_size, child.stride,
                                    child.padding, bias=child.bias is not None).to(child.weight.device)
                    setattr(parent, name, new)
                    for buf in ("mean", "std"):  # per-channel input normalisation no longer fits
                        if getattr(encoder, buf, None) is not None and encoder.get_buffer(buf).numel() != in_channels:
                            setattr(encoder, buf, torch.full((1,), float(buf == "std")))
                return encoder
    raise ValueError(f"{type(encoder).__name__} has no Conv2d to replace")


def freeze_early(encoder: nn.Module, fraction: float = 0.5) -> list[str]:
    """Freeze parameters in definition order up to ``fraction`` of the parameter count; return
    the names of the modules left entirely frozen (to keep in eval mode)."""
    params = list(encoder.named_parameters())
    total, seen = sum(p.numel() for _, p in params), 0
    for _, p in params:
        if seen + p.numel() > fraction * total:
            break
        p.requires_grad_(False)
        seen += p.numel()
    return [n for n, m in encoder.named_modules()
            if n and list(m.parameters()) and not any(p.requires_grad for p in m.parameters())]


def finetune(encoder: nn.Module, train, val, test, n_classes: int, modality: str, mode: str = "full",
             in_channels: int | None = None, epochs: int = 15, lr: float = 2e-3, seed: int = 0) -> dict[str, float]:
    """Train a copy of ``encoder`` (``full``/``partial``) or a fresh one (``scratch``) with a new head."""
    if mode not in MODES:
        raise UserError(f"mode: expected one of {MODES}, got {mode!r}")
    enc = random_like(encoder, seed) if mode == "scratch" else copy.deepcopy(encoder)
    for p in enc.parameters():  # a frozen table (pretrained word vectors) trains too
        p.requires_grad_(True)
    if in_channels is not None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            replace_first_conv(enc, in_channels)
    frozen = freeze_early(enc) if mode == "partial" else []
    head = new_head(enc.out_dim, n_classes, seed)
    losses = train_classifier(enc, head, train, modality, epochs, lr, frozen_modules=frozen, seed=seed)
    return {"top1": accuracy(enc, head, test), "val_top1": accuracy(enc, head, val), "final_loss": losses[-1]}


class Gray(torch.utils.data.Dataset):
    """Images converted to one luminance channel: a task whose input differs from pretraining's."""

    def __init__(self, base):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        s = self.base[i]
        x = s["input"]
        return {"input": (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0), "label": s["label"]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval finetune", description=HELP)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--modes", default="full,partial,scratch")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--gray", action="store_true", help="images as one channel (a new first layer)")
    add_data_args(parser)
    args = parser.parse_args(argv)
    if args.out:  # a folder of the user's own files is refused before any work
        claim_output(args.out, "eval")
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - set(MODES):
        raise UserError(f"--modes {args.modes!r}: expected a comma-separated subset of {','.join(MODES)}")
    enc, modality = load_encoder(args.checkpoint, args.encoder)
    train, val, test, classes = eval_splits(args, modality, enc)
    if args.gray:
        if modality != "frame":
            raise UserError("--gray applies to image encoders only")
        train, val, test = Gray(train), Gray(val), Gray(test)
    results = {}
    for mode in modes:
        r = finetune(enc, train, val, test, len(classes), modality, mode, in_channels=1 if args.gray else None,
                     epochs=args.epochs, lr=args.lr, seed=args.seed)
        results.update({f"finetune/{mode}/{k}": v for k, v in r.items()})
        print(f"  {mode:<8} test top-1 {r['top1']:.4f}  (val {r['val_top1']:.4f})", flush=True)
    results["finetune/chance/top1"] = 1.0 / len(classes)
    out = Path(args.out) if args.out else eval_dir(args.checkpoint, "finetune", data_tag(args, modality))
    write_json(out / "finetune.json", results)
    plot_bars({m: results[f"finetune/{m}/top1"] for m in modes}, 1.0 / len(classes),
              f"fine-tuning on {args.data} ({len(train)} train)", out / "finetune.png")
    print_table(results)
    print(f"wrote {out / 'finetune.json'}, finetune.png")
    return 0
