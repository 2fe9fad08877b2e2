"""The linear-probe report: frozen encoder features of labelled data, trained vs random init."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from multiview.core.errors import UserError
from multiview.eval.core.embed import batch_to, embed_loader, random_init
from multiview.eval.core.features import device_of
from multiview.eval.metrics.linear import probe_top1
from multiview.eval.reports.base import Report
from multiview.views.select import get_view


def probe_loaders(datamodule) -> tuple:
    """``(train, test)`` loaders of labelled samples, unshuffled and without augmentation."""
    if hasattr(datamodule, "feature_loaders"):
        return datamodule.feature_loaders()
    train = DataLoader(datamodule.train_set, batch_size=datamodule.batch_size, shuffle=False,
                       num_workers=getattr(datamodule, "num_workers", 0))
    return train, datamodule.val_dataloader()


class ProbeReport(Report):
    """Linear probe (:func:`~multiview.eval.metrics.linear.probe_top1`) of the labels on the
    concatenated pooled features of the method's encoders, trained vs the same encoders at
    random init, beside chance and the majority class. Train: the data module's training set
    (``feature_loaders()`` where it has one); test: its held-out set. Samples labelled -1 are
    left out.

    Args:
        encoders: view names of the encoders to probe, concatenated (default: every frame and
            audio encoder of the method).
    """

    name = "probe"

    def __init__(self, encoders: list[str] | None = None):
        self.views = encoders

    def chosen(self, model) -> list[str]:
        found = model.encoders()
        views = self.views or [v for v, e in found.items() if e.modality in ("frame", "audio")]
        missing = set(views) - set(found)
        if missing or not views:
            raise UserError(f"probe: encoders {sorted(missing) or views} not among {sorted(found)}")
        return views

    def compute(self, trainer, model, run_dir: Path) -> dict[str, float]:
        views = self.chosen(model)

        def forward(m, batch):
            batch, cache, encoders = batch_to(batch, device_of(m)), {}, m.encoders()
            return {v: encoders[v](get_view(batch, v, cache)) for v in views}

        train_loader, test_loader = probe_loaders(trainer.datamodule)
        figures = {}
        for prefix, m in (("probe/", model), ("probe/random_init/", random_init(model, train_loader, forward))):
            tr = embed_loader(m, train_loader, forward=forward)
            te = embed_loader(m, test_loader, forward=forward)
            keep_tr, keep_te = tr["label"] >= 0, te["label"] >= 0
            ty, vy = tr["label"][keep_tr], te["label"][keep_te]
            if ty.unique().numel() < 2 or len(vy) == 0:
                raise UserError(f"needs labelled training samples of two or more classes and labelled "
                                f"held-out samples; has {ty.unique().numel()} classes, {len(vy)} held out")
            x_tr = torch.cat([tr[v] for v in views], 1)[keep_tr]
            x_te = torch.cat([te[v] for v in views], 1)[keep_te]
            figures[f"{prefix}top1"] = probe_top1(x_tr, ty, x_te, vy)
        figures["probe/chance/top1"] = 1.0 / int(ty.max() + 1)
        figures["probe/majority/top1"] = float((vy == ty.bincount().argmax()).float().mean())
        figures["probe/n_train"], figures["probe/n_test"] = float(len(ty)), float(len(vy))
        return figures
