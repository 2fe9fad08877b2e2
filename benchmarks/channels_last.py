"""One training step of each encoder family with contiguous (NCHW) weights against channels_last (NHWC).

    python benchmarks/channels_last.py [--threads N] [--repeats 5] --out channels_last.json

The method base keeps every 4-D weight in channels_last while fitting on a GPU
(:meth:`multiview.methods.base.Method.configure_model`); on a CPU it does not, because torch
2.11's oneDNN backward of a 1x1 stride-2 convolution corrupts the heap on channels_last inputs of
some shapes, although the layout is much faster on a CPU where it works (small_resnet). This
measures the layouts on this machine's device (cuda where there is one): the same
encoder, the same batch, forward + backward + an AdamW step, the two layouts alternated in one
process (best of ``--repeats`` rounds each, so a busy machine hurts both alike), and the largest
difference between the two layouts' outputs (the values must agree to float rounding).

JSON: ``settings`` and, per encoder, ``{input, nchw_s, nhwc_s, speedup, max_abs_diff}``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multiview.core.io import write_json  # noqa: E402
from multiview.encoders.registry import build  # noqa: E402
from multiview.methods.base import nhwc  # noqa: E402

CASES = {  # encoder spec, input shape (images B x 3 x H x W; audio B x samples)
    "small_resnet w16, 32 px": ({"name": "small_resnet", "width": 16}, (256, 3, 32, 32)),
    "small_resnet w16, 64 px": ({"name": "small_resnet", "width": 16}, (128, 3, 64, 64)),
    "resnet18_cifar, 32 px": ({"name": "resnet18_cifar"}, (64, 3, 32, 32)),
    "alexnet, 64 px": ({"name": "alexnet"}, (64, 3, 64, 64)),
    "logmel_resnet w16, 1 s": ({"name": "logmel_resnet", "width": 16}, (64, 16000)),
}


def step_time(encoder: torch.nn.Module, x: torch.Tensor, steps: int) -> float:
    opt = torch.optim.AdamW(encoder.parameters(), 1e-3)

    def step():
        loss = encoder(x).float().pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # the first call picks kernels
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if x.is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def measure(spec: dict, shape: tuple, repeats: int, steps: int) -> dict:
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    base = build(spec).to(device)
    x = torch.rand(*shape, device=device)
    with torch.no_grad():
        plain, fast = base.eval(), copy.deepcopy(base).eval()._apply(nhwc)
        diff = (plain(x) - fast(x)).abs().max().item()
    times = {"nchw": [], "nhwc": []}
    for _ in range(repeats):
        for layout in times:
            encoder = copy.deepcopy(base).train()
            if layout == "nhwc":
                encoder._apply(nhwc)
            times[layout].append(step_time(encoder, x, steps))
    nchw, fast_s = min(times["nchw"]), min(times["nhwc"])
    return {"input": list(shape), "nchw_s": round(nchw, 4), "nhwc_s": round(fast_s, 4),
            "speedup": round(nchw / fast_s, 3), "max_abs_diff": diff}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--repeats", type=int, default=5, help="rounds per layout (best kept)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per round")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    out: dict = {"settings": {"threads": a.threads, "repeats": a.repeats, "steps": a.steps,
                              "torch": torch.__version__,
                              "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}}
    for name, (spec, shape) in CASES.items():
        out[name] = measure(spec, shape, a.repeats, a.steps)
        print(f"{name}: {out[name]['nchw_s']:.3f} s -> {out[name]['nhwc_s']:.3f} s per step "
              f"({out[name]['speedup']:.2f}x), outputs differ by {out[name]['max_abs_diff']:.1e}", flush=True)
        write_json(Path(a.out), out)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
