"""The word-benchmark report: analogies and word similarity of a method's word table."""

from __future__ import annotations

from pathlib import Path

from multiview.core.errors import UserError
from multiview.eval.metrics.words import evaluate_vectors
from multiview.eval.reports.base import Report


class WordsReport(Report):
    """Google analogies and word-similarity correlations
    (:func:`~multiview.eval.metrics.words.evaluate_vectors`, as ``multiview eval words``) of the
    method's text encoder's word table.

    Args:
        encoder: view name of the text encoder (default: "text").
    """

    name = "words"
    headline = ("sim/ws353/spearman", "analogy/accuracy", "sim/*/spearman")

    def __init__(self, encoder: str = "text"):
        self.view = encoder

    def compute(self, trainer, model, run_dir: Path) -> dict[str, float]:
        encoder = model.encoders().get(self.view)
        if encoder is None or getattr(encoder, "vocab", None) is None:
            raise UserError(f"the method has no text encoder {self.view!r} with a vocabulary")
        rows = sorted(encoder.vocab.items(), key=lambda item: item[1])
        table = encoder.bag.weight.detach().float().cpu()
        return evaluate_vectors([w for w, _ in rows], table[[i for _, i in rows]])
