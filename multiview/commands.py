"""The command groups of ``multiview``: each command by name, its module, and one line of help.

``multiview data`` and ``multiview eval`` list these; ``multiview GROUP NAME ARGS`` runs
``main(ARGS)`` of the named module. Only modules listed here are ever imported by name.
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    module: str
    help: str


DATA = {
    "index": Command("multiview.data.video.index", "list the usable videos of a folder (probed in parallel, with labels, captions and a rejection report)"),
    "ambient_targets": Command("multiview.objectives.ambient_corpus", "fit ambient-sound targets (PCA + k-means) on a video folder"),
    "audio_folder": Command("multiview.data.audio.audio_folder", "print the classes, speakers and splits of a labelled audio folder"),
    "shard": Command("multiview.data.video.shard", "cut an index's videos into litdata shards of frames (JPEG), sound and labels"),
    "text": Command("multiview.data.text.corpus", "prepare and encode a text corpus once; print its figures"),
}

EVAL = {
    "probe": Command("multiview.eval.commands.probe", "linear probe on frozen features vs random init, hand-designed and supervised"),
    "knn": Command("multiview.eval.commands.knn", "weighted kNN on frozen features vs random init, hand-designed and supervised"),
    "finetune": Command("multiview.eval.commands.finetune", "fine-tune with a new head (all or later layers) vs training from scratch"),
    "retrieval": Command("multiview.eval.commands.retrieval", "cross-view R@K, median rank and class mAP on the run's held-out data"),
    "layers": Command("multiview.eval.commands.layers", "linear probe on every layer of one or more runs vs random init, raw pixels and supervised"),
    "rsa": Command("multiview.eval.commands.rsa", "RDMs, their Spearman correlation and linear CKA per layer vs random init or another run"),
    "dissect": Command("multiview.eval.commands.dissect", "units' top-activating images and patches, and their receptive fields"),
    "tsne": Command("multiview.eval.commands.tsne", "2-D t-SNE maps of a layer, trained vs random init, with label agreement"),
    "words": Command("multiview.eval.commands.words", "word vectors: analogies and word similarity vs random init and PPMI-SVD"),
}

GROUPS = {"data": DATA, "eval": EVAL}


def listing(group: str) -> str:
    """The commands of ``group``, one line each."""
    table = GROUPS[group]
    width = max(len(name) for name in table)
    lines = [f"usage: multiview {group} COMMAND [ARGS...]   (multiview {group} COMMAND --help for its options)",
             "", "commands:"]
    lines += [f"  {name:<{width}}  {cmd.help}" for name, cmd in table.items()]
    return "\n".join(lines)
