"""The t-SNE report: a 2-D map of one encoder's pooled features on the held-out data."""

from __future__ import annotations

from pathlib import Path

from multiview.core.errors import UserError
from multiview.eval.core.embed import batch_to, embed_loader, random_init
from multiview.eval.core.features import device_of
from multiview.eval.core.plots import plot_maps
from multiview.eval.metrics.maps import neighbour_agreement, tsne_2d
from multiview.eval.reports.base import Report
from multiview.views.select import get_view


class TSNEReport(Report):
    """t-SNE (van der Maaten & Hinton 2008) of the held-out samples' features, trained and at
    random init side by side, coloured by label (``tsne.png``), with the share of each point's
    ten nearest 2-D neighbours that have its label.

    Args:
        encoder: view name of the encoder to map (default: the method's first).
        max_points: held-out samples to map at most.
    """

    name = "tsne"

    def __init__(self, encoder: str | None = None, max_points: int = 1000):
        self.view, self.max_points = encoder, max_points

    def compute(self, trainer, model, run_dir: Path) -> dict[str, float]:
        view = self.view or next(iter(model.encoders()))

        def forward(m, batch):
            return {view: m.encoders()[view](get_view(batch_to(batch, device_of(m)), view))}

        loader = trainer.datamodule.val_dataloader()
        maps, figures = {}, {}
        for name, m in (("trained", model), ("random init", random_init(model, loader, forward))):
            z = embed_loader(m, loader, forward=forward)
            if "label" not in z or len(z["label"]) < 5:
                raise UserError("needs five or more labelled held-out samples")
            labels = z["label"][: self.max_points].numpy()
            maps[name] = tsne_2d(z[view][: self.max_points])
            figures[f"tsne/{name.replace(' ', '_')}/knn10_agreement"] = neighbour_agreement(maps[name], labels)
        classes = [str(c) for c in range(int(labels.max()) + 1)]
        plot_maps(maps, labels, classes, f"t-SNE of the held-out {view} features", run_dir / "tsne.png")
        return figures
