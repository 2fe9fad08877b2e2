"""Cross-modal BYOL: the frame predicts the code of its sound, and the sound that of its frame.

de Sa's (1994) multiview self-supervision across modalities, in BYOL's form (Grill et al. 2020,
Eq. 2-3; :mod:`multiview.methods.byol`): each view ``v`` in ``views`` (here a ``frame`` and the
``audio`` around it) has an online encoder ``f_v``, projector ``g_v`` and predictor ``q_v``, and
a momentum target ``(f'_v, g'_v)``. The prediction of one view regresses the other view's target
projection, ``2 - 2 cos(q_a(g_a(f_a(x_a))), g'_b(f'_b(x_b)))``, summed over both directions. No
negatives: what keeps the codes from collapsing is the predictor and the slowly moving target,
as in BYOL. For retrieval, :meth:`embed` gives the frame's prediction of the sound's code and
the sound's own projection.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from multiview.core.errors import UserError
from multiview.encoders.registry import EncoderSpec, as_spec, build, plain
from multiview.methods.base import Method
from multiview.methods.parts import BYOLHead, ema_, frozen_copy
from multiview.objectives.predictive import byol_loss
from multiview.views.select import get_view, view_channels

DEFAULT_ENCODERS = {"frame": EncoderSpec(width=16), "audio": EncoderSpec("logmel_resnet", width=16)}


class CrossModalBYOL(Method):
    """Two online networks, two momentum targets; each view predicts the other's target code.

    Figures: ``loss`` and one ``loss_<a>-><b>`` per direction. Projectors and predictors are
    :class:`~multiview.methods.parts.BYOLHead`; the targets are :func:`~multiview.methods.parts.frozen_copy`
    twins moved by :func:`~multiview.methods.parts.ema_` at :meth:`~Method.momentum_at`.

    Args:
        views: the two views, e.g. ``[frame, audio]``.
        encoders: an encoder spec per view (default small_resnet for frames, logmel_resnet for audio).
        proj_hidden: hidden width of projectors and predictors.
        proj_dim: width of the codes.
        momentum: base momentum of the targets (raised to 1 on a cosine, BYOL Sec. 3.2).
        sample_rate: audio sample rate, Hz (linked to the data's).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, views: tuple[str, ...] = ("frame", "audio"), encoders: dict[str, EncoderSpec] | None = None,
                 proj_hidden: int = 512, proj_dim: int = 128, momentum: float = 0.99, sample_rate: int = 16000,
                 **kwargs):
        super().__init__(**kwargs)
        encoders = {v: plain(spec) for v, spec in (encoders or {}).items()}
        self.save_hyperparameters()
        if len(views) != 2 or views[0] == views[1]:
            raise UserError(f"model.views: expected two distinct views, got {views}")
        self.views, self.base_momentum = list(views), momentum
        specs = {v: as_spec(encoders.get(v), DEFAULT_ENCODERS.get(v)) for v in self.views}
        self.nets = nn.ModuleDict({v: build(specs[v], view_channels(v), sample_rate) for v in self.views})
        self.projectors = nn.ModuleDict({v: BYOLHead(e.out_dim, proj_hidden, proj_dim) for v, e in self.nets.items()})
        self.predictors = nn.ModuleDict({v: BYOLHead(proj_dim, proj_hidden, proj_dim) for v in self.views})
        self.target_nets, self.target_projectors = frozen_copy(self.nets), frozen_copy(self.projectors)

    def encoders(self) -> dict[str, nn.Module]:
        return dict(self.nets.items())

    def inputs(self, batch: dict) -> dict[str, torch.Tensor]:
        cache: dict = {}
        return {v: get_view(batch, v, cache) for v in self.views}

    def embed(self, batch: dict) -> dict[str, torch.Tensor]:
        """The first view's prediction of the second's code, and the second view's projection."""
        a, b = self.views
        x = self.inputs(batch)
        return {a: self.predictors[a](self.projectors[a](self.nets[a](x[a]))),
                b: self.projectors[b](self.nets[b](x[b]))}

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        """``loss``: BYOL's ``2 - 2 cos`` of each view's prediction against the other's target
        projection (Grill et al. 2020, Eq. 2), summed over both directions."""
        a, b = self.views
        x = self.inputs(batch)
        p = {v: self.predictors[v](self.projectors[v](self.nets[v](x[v]))) for v in self.views}
        with torch.no_grad():
            z = {v: self.target_projectors[v](self.target_nets[v](x[v])) for v in self.views}
        parts = {f"loss_{a}->{b}": byol_loss(p[a], z[b]), f"loss_{b}->{a}": byol_loss(p[b], z[a])}
        return {"loss": sum(parts.values()), **parts}

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        m = self.momentum_at(self.base_momentum)
        ema_(self.target_nets, self.nets, m)
        ema_(self.target_projectors, self.projectors, m)
