"""The cross-view retrieval report (:func:`~multiview.eval.core.paired.retrieval_figures`)."""

from __future__ import annotations

from pathlib import Path

from multiview.eval.core.paired import plot_matches, retrieval_figures
from multiview.eval.reports.base import Report


class RetrievalReport(Report):
    """R@K, median rank and class mAP between every pair of views on the held-out data
    (``datamodule.val_dataloader()``), trained vs random init vs chance; ``retrieval.png`` for
    frame/sound models. One path with ``multiview eval retrieval --checkpoint RUN --data run``:
    both call :func:`~multiview.eval.core.paired.retrieval_figures`, so the figures agree."""

    name = "retrieval"
    headline = ("retrieval/frame_to_audio/R@1", "retrieval/*_to_*/R@1")

    def compute(self, trainer, model, run_dir: Path) -> dict[str, float]:
        figures, trained = retrieval_figures(model, trainer.datamodule.val_dataloader())
        if {"frame", "audio", "frame_in", "audio_in"} <= set(trained):
            plot_matches(trained, model.encoders()["audio"].logmel, run_dir / "retrieval.png")
        return figures
