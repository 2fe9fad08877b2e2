"""The command groups of ``multiview``: each command by name, its module, and one line of help.

``multiview data`` and ``multiview eval`` list these; ``multiview GROUP NAME ARGS`` runs
``main(ARGS)`` of the named module. Only modules listed here are ever imported by name.
"""

from __future__ import annotations

from multiview.eval.commands import EVAL, Command

DATA = {
    "index": Command("multiview.cli.data.index",
                     "list the usable videos of a folder (probed in parallel, with labels, captions "
                     "and a rejection report)"),
    "ambient_targets": Command("multiview.cli.data.ambient_targets",
                               "fit ambient-sound targets (PCA + k-means) on a video folder"),
    "audio_folder": Command("multiview.cli.data.audio_folder",
                            "print the classes, speakers and splits of a labelled audio folder"),
    "shard": Command("multiview.cli.data.shard",
                     "cut an index's videos into litdata shards of frames (JPEG), sound and labels"),
    "text": Command("multiview.cli.data.text", "prepare and encode a text corpus once; print its figures"),
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
