"""The cross-view retrieval report (:func:`~multiview.eval.core.paired.retrieval_results`)."""

from __future__ import annotations

from pathlib import Path

from multiview.eval.core.paired import plot_matches, retrieval_results
from multiview.eval.core.queries import QUERY_FILE, write_queries
from multiview.eval.reports.base import Report


class RetrievalReport(Report):
    """R@K, median and mean rank and class mAP between every pair of views on the held-out data
    (``datamodule.val_dataloader()``), trained vs random init vs chance, each with its bootstrap
    95% interval over the queries (``..._lo`` / ``..._hi``); each query's rank goes to
    ``RUN/retrieval_queries.csv`` (:mod:`multiview.eval.core.queries`), ``retrieval.png`` for
    frame/sound models. One path with ``multiview eval retrieval --checkpoint RUN --data run``:
    both call :func:`~multiview.eval.core.paired.retrieval_results`, so the figures agree.

    Args:
        bootstrap: resamples of the queries behind each interval (0: none).
        seed: seed of the resamples.
    """

    name = "retrieval"
    headline = ("retrieval/frame_to_audio/R@1", "retrieval/*_to_*/R@1")

    def __init__(self, bootstrap: int = 1000, seed: int = 0):
        self.bootstrap, self.seed = bootstrap, seed

    def compute(self, trainer, model, run_dir: Path) -> dict[str, float]:
        figures, trained, rows = retrieval_results(model, trainer.datamodule.val_dataloader(),
                                                   n_boot=self.bootstrap, seed=self.seed)
        write_queries(run_dir / QUERY_FILE, rows)
        if {"frame", "audio", "frame_in", "audio_in"} <= set(trained):
            plot_matches(trained, model.encoders()["audio"].logmel, run_dir / "retrieval.png")
        return figures
