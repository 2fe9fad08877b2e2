"""Held-out splits, one rule for every reader and writer of indexed videos.

The folder data module (:class:`multiview.data.video.datamodule.VideoFolderDataModule`) splits an
index when it is set up; the shard writer (:mod:`multiview.data.video.shards`) splits it when the
shards are cut and stores each part as its own folder (:data:`SPLITS`), which the shard data
module (:class:`multiview.data.video.shard_stream.ShardDataModule`) reads back. Both use
:func:`split_records`, so a folder run and a shard run hold out the same videos.
"""

from __future__ import annotations

import os
import zlib

from multiview.core.errors import UserError

TRAIN, VAL = "train", "val"
SPLITS = (TRAIN, VAL)


def split_records(records: list[dict], val_fraction: float,
                  val_clips: int | None = None) -> tuple[list[dict], list[dict]]:
    """Hold out ``val_fraction`` of the videos by a hash of their relative path (stable when the
    folder grows), or, when ``val_clips`` is given, exactly the last ``val_clips`` videos in path
    order (what a numbered corpus such as the synthetic one expects: its last clips held out).
    """
    if not 0 <= val_fraction < 1:
        raise UserError(f"val_fraction: expected a number in [0, 1), got {val_fraction}")
    if val_clips is not None and not 0 <= val_clips < len(records):
        raise UserError(f"data.val_clips: {len(records)} usable videos with sound; "
                        f"need more than data.val_clips={val_clips}")
    if val_clips is not None:
        order = sorted(range(len(records)), key=lambda k: records[k].get("relpath", records[k]["path"]), reverse=True)
        n_val = val_clips
    else:
        key = [zlib.crc32(os.fsencode(str(r.get("relpath", os.path.basename(r["path"]))))) for r in records]
        order = sorted(range(len(records)), key=lambda k: (key[k], records[k]["path"]))
        n_val = round(val_fraction * len(records))
        if val_fraction > 0 and len(records) > 1:
            n_val = max(1, n_val)
    val = sorted(order[:n_val])
    train = sorted(order[n_val:])
    return [records[k] for k in train], [records[k] for k in val]


__all__ = ["SPLITS", "TRAIN", "VAL", "split_records"]
