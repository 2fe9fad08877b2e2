"""How soon temporal order verification learns its pretext on the embedded world, per head.

Side by side in one run, the same :class:`~multiview.methods.temporal_order.TemporalOrder` method
and training loop (AdamW, constant learning rate, batches of clips of the embedded synthetic
world held in memory) with:

* ``concat``: the paper's head (Misra et al. 2016), one hidden layer over the three codes
  concatenated, one tuple per clip;
* ``pairwise``: the pairwise head (Lee et al. 2017), one tuple per clip;
* ``pairwise_4``: the pairwise head, every frame encoded once and four tuples read per clip
  (the method's default).

Every ``--eval-every`` steps the pretext accuracy on the held-out clips (``--draws`` tuples from
each) is measured; a run stops when it reaches ``--stop-at`` or after ``--steps``. Writes JSON
(``--out``) with each run's curve, the first step at which it reached ``--reach``, and its
seconds per step.

    python benchmarks/temporal_order_heads.py --out temporal_order_heads.json --seeds 0 1
"""

from __future__ import annotations

import argparse
import time

import torch

from multiview.core.io import write_json
from multiview.data.video.synthetic import SyntheticAV
from multiview.methods.temporal_order import TemporalOrder

HEADS = {"concat": {"pairwise": False, "tuples_per_clip": 1},
         "pairwise": {"pairwise": True, "tuples_per_clip": 1},
         "pairwise_4": {"pairwise": True, "tuples_per_clip": 4}}


def clips(args) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, held out)`` clips ``[N, T, 3, H, W]``: one epoch of the training positions."""
    dm = SyntheticAV(n_clips=args.clips, val_clips=args.val_clips, frames=args.frames, fps=args.fps,
                     clips_per_video=4, batch_size=64, num_workers=0)
    dm.prepare_data()
    dm.setup("fit")
    return (torch.cat([b["frames"] for b in dm.train_dataloader()]),
            torch.cat([b["frames"] for b in dm.val_dataloader()]))


@torch.no_grad()
def held_out_accuracy(model: TemporalOrder, val: torch.Tensor, draws: int) -> float:
    model.eval()
    torch.manual_seed(1234)
    hits = total = 0
    for _ in range(draws):
        logits, target = model.task({"frames": val})
        hits += int((logits.argmax(1) == target).sum())
        total += len(target)
    model.train()
    return hits / total


def train(head: str, seed: int, train_clips: torch.Tensor, val: torch.Tensor, args) -> dict:
    torch.manual_seed(seed)
    model = TemporalOrder(encoder={"name": "small_resnet", "width": args.width}, grid=args.grid, **HEADS[head])
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    curve, seconds = [(0, held_out_accuracy(model, val, args.draws))], 0.0
    for step in range(1, args.steps + 1):
        batch = train_clips[torch.randint(len(train_clips), (args.batch_size,), generator=g)]
        start = time.perf_counter()
        loss = model.losses({"frames": batch}, step)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        seconds += time.perf_counter() - start
        if step % args.eval_every == 0:
            curve.append((step, held_out_accuracy(model, val, args.draws)))
            print(f"{head} seed {seed} step {step}: held-out {curve[-1][1]:.3f}", flush=True)
            if curve[-1][1] >= args.stop_at:
                break
    reached = next((s for s, acc in curve if acc >= args.reach), None)
    return {"head": head, "seed": seed, "curve": curve, "steps": step, "reached_at_step": reached,
            "seconds_per_step": seconds / step, "final": curve[-1][1]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="temporal_order_heads.json")
    p.add_argument("--heads", nargs="+", default=list(HEADS), choices=list(HEADS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--stop-at", type=float, default=0.8)
    p.add_argument("--reach", type=float, default=0.7)
    p.add_argument("--draws", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--grid", type=int, default=4)
    p.add_argument("--clips", type=int, default=320)
    p.add_argument("--val-clips", type=int, default=64)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--fps", type=float, default=2.67)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train_clips, val = clips(args)
    runs = [train(head, seed, train_clips, val, args) for seed in args.seeds for head in args.heads]
    write_json(args.out, {"settings": vars(args), "runs": runs,
                          "summary": {h: [r["reached_at_step"] for r in runs if r["head"] == h] for h in args.heads}})
    for r in runs:
        print(f"{r['head']:>10} seed {r['seed']}: reached {args.reach} at step {r['reached_at_step']}, "
              f"final {r['final']:.3f} after {r['steps']} steps, {r['seconds_per_step']:.3f} s/step")


if __name__ == "__main__":
    main()
