"""``multiview bench --config RECIPE [--section.key value ...] [--steps N]``: how fast a recipe trains.

Runs ``N`` training steps of the recipe through Lightning (no validation, checkpoints or logs)
and prints samples/s, the split of step time between waiting for the loader and computing,
and the model FLOP utilisation on a GPU: FLOPs of one training step counted with
``torch.utils.flop_counter`` over the achieved step rate, against the device's dense bf16 peak.
The first ``--warmup`` steps (worker start, compilation) are left out. ``--out X.json`` also
writes the figures.
"""

from __future__ import annotations

import sys
import time

import lightning as L
import torch

from multiview.io import write_json

# Dense bf16 tensor-core peaks, FLOP/s (vendor data sheets).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "V100": 125e12}


class StepTimer(L.Callback):
    """Wall time between steps (waiting for the loader) and within them (compute), after warm-up."""

    def __init__(self, warmup: int):
        self.warmup, self.wait, self.compute, self.samples, self.steps = warmup, 0.0, 0.0, 0, 0
        self._end: float | None = None
        self._start = 0.0

    def _sync(self, module) -> float:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)
        return time.perf_counter()

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._start = self._sync(module)
        if self._end is not None and trainer.global_step >= self.warmup:
            self.wait += self._start - self._end

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._end = self._sync(module)
        if trainer.global_step > self.warmup:
            self.compute += self._end - self._start
            self.samples += len(batch["index"]) if isinstance(batch, dict) and "index" in batch else 0
            self.steps += 1


def step_flops(model, batch) -> float:
    """FLOPs of one forward and backward pass of ``training_step`` on ``batch``."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        loss = model.training_step(batch, 0)
        loss = loss["loss"] if isinstance(loss, dict) else loss
        loss.backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    steps, warmup, out = 50, 5, None
    rest = []
    it = iter(argv)
    for a in it:
        if a in ("--steps", "--warmup", "--out"):
            v = next(it, None)
            if v is None:
                from multiview.errors import UserError

                raise UserError(f"{a}: expected a value")
            steps, warmup, out = (int(v), warmup, out) if a == "--steps" else \
                (steps, int(v), out) if a == "--warmup" else (steps, warmup, v)
        else:
            rest.append(a)
    from multiview.trainer_cli import build_cli

    timer = StepTimer(warmup)
    cli = build_cli(rest + [f"--trainer.max_steps={steps + warmup}", "--trainer.limit_val_batches=0",
                            "--trainer.enable_checkpointing=false", "--trainer.logger=false",
                            "--trainer.enable_progress_bar=false", "--trainer.max_epochs=-1"])
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, cli.datamodule)
    model, total = cli.model, timer.wait + timer.compute
    rate = timer.samples / total if total else float("nan")
    report = {"samples_per_s": rate, "steps": timer.steps, "data_wait_fraction": timer.wait / total if total else None,
              "compute_fraction": timer.compute / total if total else None, "device": str(model.device),
              "flops_per_step": None, "mfu": None}
    peak = peak_flops(model.device)
    if peak is not None and cli.trainer.is_global_zero:
        batch = next(iter(cli.datamodule.train_dataloader()))
        batch = cli.datamodule.on_before_batch_transfer(batch, 0)
        batch = cli.trainer.strategy.batch_to_device(batch, model.device)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            report["flops_per_step"] = step_flops(model, batch)
        report["mfu"] = report["flops_per_step"] * timer.steps / total / peak
    if cli.trainer.is_global_zero:
        mfu = "n/a (no GPU)" if report["mfu"] is None else f"{100 * report['mfu']:.1f}%"
        print(f"samples/s {rate:,.0f} | step time: {100 * (report['data_wait_fraction'] or 0):.0f}% waiting for data, "
              f"{100 * (report['compute_fraction'] or 0):.0f}% computing | MFU {mfu} | {timer.steps} steps on "
              f"{report['device']}")
        if out:
            write_json(out, report)
    return 0
