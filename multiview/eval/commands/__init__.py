"""The ``multiview eval`` commands, one module each, by name with one line of help.

``multiview eval`` lists this table (:mod:`multiview.cli.commands`) and runs ``main(ARGS)`` of the
named module; only modules listed here are ever imported by name.
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    module: str
    help: str


EVAL = {
    "probe": Command("multiview.eval.commands.probe",
                     "linear probe on frozen features vs random init, hand-designed and supervised"),
    "knn": Command("multiview.eval.commands.knn",
                   "weighted kNN on frozen features vs random init, hand-designed and supervised"),
    "finetune": Command("multiview.eval.commands.finetune",
                        "fine-tune with a new head (all or later layers) vs training from scratch"),
    "retrieval": Command("multiview.eval.commands.retrieval",
                         "cross-view R@K, median rank and class mAP on the run's held-out data"),
    "layers": Command("multiview.eval.commands.layers",
                      "linear probe on every layer of one or more runs vs random init, raw pixels and supervised"),
    "rsa": Command("multiview.eval.commands.rsa",
                   "RDMs, their Spearman correlation and linear CKA per layer vs random init or another run"),
    "dissect": Command("multiview.eval.commands.dissect",
                       "units' top-activating images and patches, and their receptive fields"),
    "tsne": Command("multiview.eval.commands.tsne",
                    "2-D t-SNE maps of a layer, trained vs random init, with label agreement"),
    "words": Command("multiview.eval.commands.words",
                     "word vectors: analogies and word similarity vs random init and PPMI-SVD"),
}
