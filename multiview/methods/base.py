"""The one method base: the optimizer and its schedule, the views a method reads, its figures.

A method subclasses :class:`Method` (or, for one encoder on one view, :class:`OneEncoder`), builds
its encoders and parts (:mod:`multiview.methods.parts`) in ``__init__`` (taking ``**kwargs`` on to
this base, so the optimizer knobs are declared here once and every recipe sets them the same way:
``--model.lr``, ``--model.optimizer`` ...), names its encoders in :meth:`Method.encoders`, and
returns its figures from :meth:`Method.losses`: ``{"loss": total, "acc": ..., "loss_<part>": ...}``.
The base logs every figure as ``train/<name>`` and ``val/<name>``. Reports, evaluation and export
use only :meth:`encoders` and :meth:`embed` (:mod:`multiview.core.contracts`).

Views are read from a batch through :func:`multiview.views.select.get_view`; a view asked for as
``auto`` is resolved once, at the first batch (:meth:`Method.resolve`), and kept in the checkpoint
(key ``"views"``), so a SimCLR trained on video frames names its encoder ``frame`` when reloaded.
Before every batch torch's global generators are seeded from the step
(:func:`multiview.views.seeding.seed_step`), so whatever a method draws besides its views is the
same in a resumed run as in an unbroken one.
"""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec, as_spec, build, plain
from multiview.methods.parts import cosine_momentum
from multiview.views.seeding import VAL_STEP, seed_step
from multiview.views.select import batch_size, get_view, resolve_view

OPTIMIZERS = ("adamw", "sgd")


def nhwc(t: torch.Tensor) -> torch.Tensor:
    """``t`` in channels_last if it is 4-D (a convolution's weight, an image batch), else ``t``."""
    return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t


class Method(L.LightningModule):
    """Base LightningModule: AdamW or SGD with linear warmup then cosine decay, per step.

    Args:
        lr: peak learning rate (reached after the warmup).
        weight_decay: decoupled weight decay (AdamW) or L2 (SGD).
        optimizer: "adamw" or "sgd" (momentum 0.9).
        warmup_fraction: fraction of all training steps spent warming up linearly from 0.
    """

    def __init__(self, lr: float = 2e-3, weight_decay: float = 1e-4, optimizer: str = "adamw",
                 warmup_fraction: float = 0.05):
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise UserError(f"model.optimizer: expected one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
        if lr <= 0 or not math.isfinite(lr):
            raise UserError(f"model.lr: expected a positive finite number, got {lr}")
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer_name = optimizer
        self.warmup_fraction = warmup_fraction
        self.schedule_steps: int | None = None  # set while a fit is bounded by max_time alone
        self._estimated_steps: int | None = None
        self.resolved_views: dict[str, str] = {}

    # --- the contract -----------------------------------------------------------------------
    def encoders(self) -> dict[str, nn.Module]:
        """``{view name: encoder}``: every encoder this method trains (see :mod:`multiview.core.contracts`)."""
        raise NotImplementedError(f"{type(self).__name__} does not name its encoders")

    def embed(self, batch: dict) -> dict[str, torch.Tensor]:
        """``{view: [B, D]}``: the representation of each view of ``batch`` that the method compares
        across views; by default each encoder's pooled output."""
        cache: dict = {}
        return {v: enc(get_view(batch, v, cache)) for v, enc in self.encoders().items()}

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        """``{"loss": the total to minimise, other figure: value, ...}`` of one batch; every entry is
        logged as ``train/<name>`` (``val/<name>`` on held-out batches)."""
        raise NotImplementedError(f"{type(self).__name__} does not define losses()")

    # --- views ------------------------------------------------------------------------------
    def resolve(self, batch: dict, role: str, view: str) -> str:
        """The view name ``view`` means for this method's ``role`` (e.g. its one ``"input"``):
        resolved at the first batch that asks (``auto``: the batch's image or frame) and kept."""
        if role not in self.resolved_views:
            self.resolved_views[role] = resolve_view(batch, view)
        return self.resolved_views[role]

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["views"] = dict(self.resolved_views)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.resolved_views.update(checkpoint.get("views") or {})

    def configure_model(self) -> None:
        """On a GPU, every 4-D weight and buffer in channels_last (NHWC) before training: cuDNN
        picks its fastest convolutions for it under bf16 autocast, and each convolution's output
        keeps the format. Values are unchanged; only the strides differ. Not on a CPU: torch 2.11's
        oneDNN backward of a 1x1 stride-2 convolution corrupts the heap on channels_last inputs of
        some shapes (small_resnet width 8 at 64 px aborts), so a CPU fit keeps NCHW."""
        trainer = self._trainer
        if trainer is not None and trainer.strategy.root_device.type == "cuda":
            self._apply(nhwc)

    # --- steps and figures ------------------------------------------------------------------
    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        seed_step(self.global_step, self.global_rank)

    def on_validation_batch_start(self, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        seed_step(VAL_STEP + batch_idx, self.global_rank)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        figures = self.losses(batch, batch_idx)
        self.log_figures("train", figures, batch_size(batch))
        return figures["loss"]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.log_figures("val", self.losses(batch, batch_idx), batch_size(batch))

    def log_figures(self, stage: str, figures: dict, n: int) -> None:
        """``stage/<name>`` for every figure; the loss (and an accuracy) on the progress bar."""
        for name, value in figures.items():
            if value is None:
                continue
            self.log(f"{stage}/{name}", value.detach() if torch.is_tensor(value) else float(value),
                     prog_bar=name == "loss" or (name == "acc" and stage == "val"), batch_size=n,
                     sync_dist=stage != "train")

    # --- optimizer and schedule -------------------------------------------------------------
    def total_steps(self) -> int:
        """The schedule's length in optimizer steps: the trainer's estimate from max_epochs or
        max_steps, or, for a fit bounded only by max_time, the steps that fit in it
        (:class:`multiview.run.time_budget.FitScheduleToTime`)."""
        if self.schedule_steps is not None:
            return max(1, self.schedule_steps)
        if self._estimated_steps is None:
            estimated = self.trainer.estimated_stepping_batches
            if not math.isfinite(estimated):
                raise UserError("trainer: training has no end: set --trainer.max_epochs, --trainer.max_steps "
                                "or --trainer.max_time")
            self._estimated_steps = max(1, int(estimated))
        return self._estimated_steps

    def momentum_at(self, base: float) -> float:
        """A momentum teacher's momentum at this step (:func:`~multiview.methods.parts.cosine_momentum`)."""
        if self._trainer is None:
            return base
        return cosine_momentum(base, self.global_step, self.total_steps())

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        if self.optimizer_name == "sgd":
            opt = torch.optim.SGD(params, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        self._estimated_steps = None  # this trainer's

        def schedule(step: int) -> float:
            total = self.total_steps()
            warmup = int(self.warmup_fraction * total)
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class OneEncoder(Method):
    """The thin layer for methods that train one encoder on one view of each sample.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}`` (audio: ``logmel_resnet``).
        view: the view the encoder reads: "image", "frame", "audio", or "auto" (the picture the
            training batches hold: "image" from an image folder, "frame" from video).
        sample_rate: of the waveforms, Hz, for an audio view's log-mel front end.
        **kwargs: optimizer knobs of :class:`Method` (lr, weight_decay, ...).
    """

    views: tuple[str, ...] = ("auto", "image", "frame")
    in_channels = 3

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", sample_rate: int = 16000,
                 **kwargs):
        super().__init__(**kwargs)
        if view not in self.views:
            raise UserError(f"model.view: expected one of {', '.join(self.views)}, got {view!r}")
        self.view = view
        try:
            if view == "audio":
                self.encoder = build(as_spec(encoder, {"name": "logmel_resnet"}), sample_rate=sample_rate)
            else:
                self.encoder = build(plain(encoder) or EncoderSpec(), self.in_channels)
        except (ValueError, TypeError) as e:
            raise UserError(f"model.encoder: {e}") from None

    @property
    def view_name(self) -> str:
        """The encoder's view: as resolved from the training data (``auto``), else as asked."""
        return self.resolved_views.get("input", "image" if self.view == "auto" else self.view)

    def encoders(self) -> dict[str, nn.Module]:
        return {self.view_name: self.encoder}

    def inputs(self, batch: dict, clips: bool = False) -> torch.Tensor:
        """The encoder's input of ``batch``: images ``[B, 3, H, W]`` (a clip's first frame), whole
        clips ``[B, T, 3, H, W]`` where ``clips`` and the batch has them, or waveforms ``[B, S]``."""
        return get_view(batch, self.resolve(batch, "input", self.view), clips=clips)
