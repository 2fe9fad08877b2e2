"""The t-SNE report: a 2-D map of one encoder's features on the run's held-out data.

One path per figure: it calls :func:`multiview.eval.core.frozen.tsne_figures`, as
``multiview eval tsne`` does, on :func:`multiview.eval.core.run_data.run_splits` of the run's data
module with the same defaults, so ``multiview eval tsne --checkpoint RUN --data run`` reproduces
its ``tsne/...`` figures.
"""

from __future__ import annotations

from pathlib import Path

from multiview.eval.core.checkpoint import pick_encoder
from multiview.eval.core.datasets import DEFAULTS
from multiview.eval.core.frozen import tsne_figures
from multiview.eval.core.plots import plot_maps
from multiview.eval.core.run_data import run_splits
from multiview.eval.reports.base import Report


class TSNEReport(Report):
    """t-SNE (van der Maaten & Hinton 2008) of the held-out samples' features, trained and at
    random init side by side, coloured by label (``tsne.png``), with the share of each point's
    ten nearest 2-D neighbours that have its label.

    Args:
        encoder: view name(s) of the encoder to map, as ``--encoder`` (default ``auto``).
        max_points: held-out samples to map at most (class-balanced; ``--n`` of the command).
        layer, spatial, perplexity, seed, train_limit, val_fraction: as the command's options.
    """

    name = "tsne"
    headline = ("tsne/trained/knn10_agreement",)

    def __init__(self, encoder: str | None = None, max_points: int = DEFAULTS["tsne_points"],
                 layer: str = DEFAULTS["layer"], spatial: int = DEFAULTS["spatial"],
                 perplexity: float = DEFAULTS["perplexity"], seed: int = DEFAULTS["seed"],
                 train_limit: int = DEFAULTS["train_limit"], val_fraction: float = DEFAULTS["val_fraction"]):
        self.encoder, self.max_points, self.layer, self.spatial = encoder, max_points, layer, spatial
        self.perplexity, self.seed, self.train_limit, self.val_fraction = perplexity, seed, train_limit, val_fraction

    def compute(self, trainer, model, run_dir: Path) -> dict[str, float]:
        encoder, modality = pick_encoder(model.encoders(), self.encoder, type(model).__name__)
        train, _, test, classes = run_splits(trainer.datamodule, modality, self.val_fraction, self.seed,
                                             self.train_limit, self.max_points)
        figures, maps, labels = tsne_figures(encoder, train, test, self.layer, self.spatial, self.perplexity,
                                             self.seed)
        plot_maps(maps, labels, classes, f"t-SNE of the held-out {modality} features", run_dir / "tsne.png")
        return figures
