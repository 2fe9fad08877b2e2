"""ResNet-50 training images/s at 224 px (synthetic batch on the device), against NVIDIA's A100 anchor.

NVIDIA DeepLearningExamples report 2,470 img/s for ResNet-50 v1.5 training with AMP on one A100
80GB (batch 256). This times torchvision's resnet50 with bf16 autocast, channels_last and, with
``--compile``, torch.compile; data loading is left out (the loader is benchmarked apart).

    python benchmarks/resnet50_throughput.py --out /tmp/resnet50.json [--compile]
"""

from __future__ import annotations

import argparse
import time

import torch
import torchvision

from multiview.core.io import write_json

A100_AMP_IMG_S = 2470.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--batch_size", type=int, default=256)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=15)
    p.add_argument("--compile", action="store_true")
    args = p.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    model = torchvision.models.resnet50().to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step_model = torch.compile(model) if args.compile else model
    x = torch.randn(args.batch_size, 3, 224, 224, device=dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (args.batch_size,), device=dev)

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(step_model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    rate = args.steps * args.batch_size / (time.perf_counter() - start)
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    result = {"device": name, "img_per_s": rate, "a100_amp_anchor": A100_AMP_IMG_S,
              "ratio_vs_a100": rate / A100_AMP_IMG_S, "goal_ratio": 1.5, "batch_size": args.batch_size,
              "compile": args.compile}
    write_json(args.out, result)
    print(f"ResNet-50 bf16 {rate:,.0f} img/s on {name}: {rate / A100_AMP_IMG_S:.2f}x the A100 anchor (goal 1.5x)")


if __name__ == "__main__":
    main()
