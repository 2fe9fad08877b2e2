"""``multiview bench --config RECIPE [--section.key value ...] [--steps N]``: how fast a recipe trains.

Runs ``N`` training steps of the recipe through Lightning (no validation, checkpoints or logs)
and prints samples/s, the split of step time between waiting for the loader and computing,
and the model FLOP utilisation on a GPU: FLOPs of one training step counted with
``torch.utils.flop_counter`` over the achieved step rate, against the device's dense bf16 peak.
The first ``--warmup`` steps (worker start, compilation) are left out; figures are rank 0's. ``--out X.json`` also
writes the figures.
"""

from __future__ import annotations

import sys
import time

import lightning as L
import torch

from multiview.core.io import write_json

# Dense bf16 tensor-core peaks, FLOP/s (vendor data sheets).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "V100": 125e12}


class StepTimer(L.Callback):
    """Wall time between steps (waiting for the loader) and within them (compute), after warm-up.

    With ``count_flops``, the last warm-up step runs under ``torch.utils.flop_counter``
    (forward, backward and optimizer step of one batch).
    """

    def __init__(self, warmup: int, count_flops: bool = False):
        self.warmup, self.wait, self.compute, self.samples, self.steps = warmup, 0.0, 0.0, 0, 0
        self.count_flops, self.flops, self._counter = count_flops, None, None
        self._end: float | None = None
        self._start = 0.0

    def _sync(self, module) -> float:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)
        return time.perf_counter()

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if self.count_flops and trainer.global_step == max(0, self.warmup - 1):
            from torch.utils.flop_counter import FlopCounterMode

            self._counter = FlopCounterMode(display=False)
            self._counter.__enter__()
        self._start = self._sync(module)
        if self._end is not None and trainer.global_step >= self.warmup:
            self.wait += self._start - self._end

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._end = self._sync(module)
        if self._counter is not None:
            self._counter.__exit__(None, None, None)
            self.flops, self._counter = float(self._counter.get_total_flops()), None
        if trainer.global_step > self.warmup:
            self.compute += self._end - self._start
            self.samples += len(batch["index"]) if isinstance(batch, dict) and "index" in batch else 0
            self.steps += 1


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
                from multiview.core.errors import UserError

                raise UserError(f"{a}: expected a value")
            steps, warmup, out = (int(v), warmup, out) if a == "--steps" else \
                (steps, int(v), out) if a == "--warmup" else (steps, warmup, v)
        else:
            rest.append(a)
    if out:
        from multiview.core.outputs import claim_file

        claim_file(out, "bench")
    from multiview.cli.trainer import build_cli

    cli = build_cli(rest + [f"--trainer.max_steps={steps + warmup}", "--trainer.limit_val_batches=0",
                            "--trainer.enable_checkpointing=false", "--trainer.logger=false",
                            "--trainer.enable_progress_bar=false", "--trainer.max_epochs=-1"])
    device = cli.trainer.strategy.root_device
    peak = peak_flops(device)
    timer = StepTimer(warmup, count_flops=peak is not None)
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, cli.datamodule)
    total = timer.wait + timer.compute
    rate = timer.samples / total if total else float("nan")
    report = {"samples_per_s": rate, "steps": timer.steps, "data_wait_fraction": timer.wait / total if total else None,
              "compute_fraction": timer.compute / total if total else None, "device": str(device),
              "world_size": cli.trainer.world_size, "flops_per_step": timer.flops, "mfu": None}
    if peak is not None and timer.flops and total:
        report["mfu"] = timer.flops * timer.steps / total / peak
    if cli.trainer.is_global_zero:
        mfu = "n/a (no GPU)" if report["mfu"] is None else f"{100 * report['mfu']:.1f}%"
        print(f"samples/s {rate:,.0f} | step time: {100 * (report['data_wait_fraction'] or 0):.0f}% waiting for data, "
              f"{100 * (report['compute_fraction'] or 0):.0f}% computing | MFU {mfu} | {timer.steps} steps on "
              f"{report['device']}")
        if out:
            write_json(out, report)
    return 0
