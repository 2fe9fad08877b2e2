"""Fine-tuning a pretrained encoder on a labelled task, against training from scratch.

The transfer protocol of Donahue et al. 2014 / Yosinski et al. 2014 ("How transferable are
features in deep neural networks?"): a new linear head replaces the pretraining head (the task's
outputs differ), a new first convolution replaces the old one when the input channels differ,
and then either every layer is trained (``full``), only the later half of the encoder's
parameters and the head (``partial``; the earlier layers stay frozen, batch-norm statistics
included), or the same architecture is trained from random init (``scratch``).

``multiview eval finetune --checkpoint RUN --data cifar10 --modes full,partial,scratch`` writes
``finetune.json`` and ``finetune.png`` (test top-1 per mode).
"""

from __future__ import annotations

import argparse
import copy
import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from multiview.eval.features import device_of, to_device

MODES = ("full", "partial", "scratch")


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


def augment(x: torch.Tensor, modality: str, generator: torch.Generator) -> torch.Tensor:
    """Images: random 4-pixel-padded crop and horizontal flip; audio: random circular shift;
    text: none."""
    if modality == "text":
        return x
    if modality == "audio":
        shift = int(torch.randint(-x.shape[-1] // 10, x.shape[-1] // 10 + 1, (1,), generator=generator))
        return torch.roll(x, shift, dims=-1)
    h, w = x.shape[-2:]
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    i, j = (int(v) for v in torch.randint(0, 9, (2,), generator=generator))
    x = padded[..., i:i + h, j:j + w]
    return x.flip(-1) if bool(torch.randint(0, 2, (1,), generator=generator)) else x


def train_classifier(encoder: nn.Module, head: nn.Module, train, modality: str, epochs: int = 15,
                     lr: float = 2e-3, batch_size: int = 128, weight_decay: float = 5e-4,
                     frozen_modules: list[str] = (), seed: int = 0) -> list[float]:
    """AdamW with cosine decay on cross-entropy; returns the mean loss per epoch."""
    device = device_of(encoder)
    head.to(device)
    params = [p for p in list(encoder.parameters()) + list(head.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=len(train) > batch_size, generator=g)
    steps = max(1, epochs * len(loader))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    modules = dict(encoder.named_modules())
    losses = []
    for _ in range(epochs):
        encoder.train()
        head.train()
        for name in frozen_modules:
            modules[name].eval()
        total, n = 0.0, 0
        for batch in loader:
            x = augment(to_device(batch["input"], device), modality, g)
            loss = F.cross_entropy(head(encoder(x)), torch.as_tensor(batch["label"]).to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + loss.item() * len(x), n + len(x)
        losses.append(total / max(n, 1))
    encoder.eval()
    head.eval()
    return losses


@torch.no_grad()
def accuracy(encoder: nn.Module, head: nn.Module, data, batch_size: int = 256) -> float:
    device = device_of(encoder)
    encoder.eval()
    head.eval()
    correct = n = 0
    for batch in DataLoader(data, batch_size=batch_size):
        pred = head(encoder(to_device(batch["input"], device))).argmax(1).cpu()
        correct += int((pred == torch.as_tensor(batch["label"])).sum())
        n += len(pred)
    return correct / max(n, 1)


def finetune(encoder: nn.Module, train, val, test, n_classes: int, modality: str, mode: str = "full",
             in_channels: int | None = None, epochs: int = 15, lr: float = 2e-3, seed: int = 0) -> dict[str, float]:
    """Train a copy of ``encoder`` (``full``/``partial``) or a fresh one (``scratch``) with a new head."""
    from multiview.eval.checkpoint import random_like

    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    enc = random_like(encoder, seed) if mode == "scratch" else copy.deepcopy(encoder)
    for p in enc.parameters():  # a frozen table (pretrained word vectors) trains too
        p.requires_grad_(True)
    if in_channels is not None:
        replace_first_conv(enc, in_channels)
    frozen = freeze_early(enc) if mode == "partial" else []
    head = nn.Linear(enc.out_dim, n_classes)
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
    from multiview.errors import UserError
    from multiview.eval.checkpoint import eval_dir, load_encoder
    from multiview.eval.compare import plot_bars, print_table
    from multiview.eval.datasets import add_data_args, data_tag, eval_splits
    from multiview.io import write_json

    parser = argparse.ArgumentParser(prog="multiview eval finetune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--modes", default="full,partial,scratch")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--gray", action="store_true", help="images as one channel (a new first layer)")
    add_data_args(parser)
    args = parser.parse_args(argv)
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
