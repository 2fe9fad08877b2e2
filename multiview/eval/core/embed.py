"""Embedding a loader with a model, and the one random-init procedure every baseline uses.

A network at random init still has BatchNorm running statistics of (0, 1), which do not match
its activations; evaluated in eval mode, its outputs then collapse. :func:`random_init` therefore
re-initialises every layer (:func:`random_like`) and recomputes the BatchNorm statistics on the
data (:func:`calibrate_batchnorm`; no labels, no weight change) before anything is measured. The
end-of-fit reports and every ``multiview eval`` command use this one procedure, so a baseline
gives the same figure whichever of them computes it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import torch
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.eval.core.features import device_of, to_device


def batch_to(batch: dict, device) -> dict:
    """Tensors of ``batch`` moved to ``device``; strings and lists as they are."""
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def embed_batch(model: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
    """``model.embed`` of a batch, on the model's device."""
    return model.embed(batch_to(batch, device_of(model)))


@torch.no_grad()
def embed_loader(model: nn.Module, loader: Iterable, keep_inputs: int = 0,
                 forward: Callable = embed_batch) -> dict[str, torch.Tensor]:
    """Concatenated ``forward(model, batch)`` outputs over ``loader`` (model in eval mode), with
    the batches' labels under ``"label"`` and the first ``keep_inputs`` frames and sounds under
    ``"frame_in"`` / ``"audio_in"``."""
    was_training = model.training
    model.eval()
    out: dict[str, list] = {}
    kept: dict[str, list] = {}
    n_kept = 0
    try:
        for batch in loader:
            for view, z in forward(model, batch).items():
                out.setdefault(view, []).append(z.float().cpu())
            if "label" in batch:
                out.setdefault("label", []).append(torch.as_tensor(batch["label"]).cpu())
            if n_kept < keep_inputs:
                for key in ("frame", "audio"):
                    if key in batch and torch.is_tensor(batch[key]):
                        kept.setdefault(key, []).append(batch[key].cpu())
                n_kept += len(next(iter(out.values()))[-1])
    finally:
        model.train(was_training)
    result = {k: torch.cat(v) for k, v in out.items()}
    require_finite(result, type(model).__name__)
    result.update({f"{k}_in": torch.cat(v)[:keep_inputs] for k, v in kept.items()})
    return result


def require_finite(embeddings: dict[str, torch.Tensor], model: str) -> None:
    """Refuse, in one line, embeddings with NaN or inf rows: every figure computed from them would
    be a silent worst case (a NaN similarity ranks last)."""
    for view, z in embeddings.items():
        if view == "label" or not z.is_floating_point():
            continue
        bad = int((~torch.isfinite(z.reshape(len(z), -1))).any(1).sum())
        if bad:
            raise UserError(f"{model}: {bad} of {len(z)} {view!r} embeddings hold NaN or inf values; no figure "
                            "is computed from them (the weights have diverged, or those inputs hold NaN)")


def random_like(module: nn.Module, seed: int = 12345) -> nn.Module:
    """The same architecture, freshly initialised: every submodule's ``reset_parameters`` (frozen
    tables included: a word table's random init is the baseline word vectors are measured against)."""
    fresh = copy.deepcopy(module)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for m in fresh.modules():
            if hasattr(m, "reset_parameters") and m is not fresh:
                m.reset_parameters()
    return fresh.eval()


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, loader: Iterable, forward: Callable = embed_batch,
                        max_batches: int = 20) -> int:
    """Set every BatchNorm's running statistics to the data's; returns the batches used.

    Batches of one sample are passed over (a BatchNorm cannot take statistics from one value).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches seen
    model.train()
    used = 0
    try:
        for batch in loader:
            if used >= max_batches:
                break
            size = next((len(v) for v in batch.values() if torch.is_tensor(v) or isinstance(v, list)), 0)
            if size < 2:
                continue
            forward(model, batch)
            used += 1
    finally:
        model.train(was_training)
    return used


def random_init(module: nn.Module, loader: Iterable, forward: Callable = embed_batch,
                seed: int = 12345) -> nn.Module:
    """:func:`random_like` with its BatchNorm statistics taken from ``loader``, in eval mode."""
    fresh = random_like(module, seed)
    calibrate_batchnorm(fresh, loader, forward)
    return fresh.eval()


def features_batch(encoder: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
    """``encoder.features`` of an evaluation batch (``{"input", "label"}``), on its device."""
    return encoder.features(to_device(batch["input"], device_of(encoder)))


def random_encoder(encoder: nn.Module, data, seed: int = 12345, batch_size: int = 128) -> nn.Module:
    """:func:`random_init` of an encoder, BatchNorm statistics from ``data`` (a dataset or loader)."""
    from torch.utils.data import DataLoader

    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size, shuffle=False)
    return random_init(encoder, loader, features_batch, seed)
