"""Held-out splits, one rule for every reader and writer of indexed videos, stratified by label.

The folder data module (:class:`multiview.data.video.datamodule.VideoFolderDataModule`) splits an
index when it is set up; the shard writer (:mod:`multiview.data.video.shards`) splits it when the
shards are cut and stores each part as its own folder (:data:`SPLITS`), which the shard data
module (:class:`multiview.data.video.shard_stream.ShardDataModule`) reads back. Both use
:func:`split_records`, so a folder run and a shard run hold out the same videos.

Where the videos are labelled, every class with two or more videos keeps one in training and
has one held out where the held-out count allows (:func:`stratified`), so a probe of the held-out
clips can score every class.
:func:`check_held_out` refuses a held-out set that cannot score (fewer than 2 queries) and says
how wide a small one's figures are (:func:`interval_95`), before training starts.
"""

from __future__ import annotations

import math
import os
import sys
import zlib
from collections import defaultdict

from multiview.core.errors import UserError

TRAIN, VAL = "train", "val"
SPLITS = (TRAIN, VAL)
CAPPED_SHARE = 0.2  # what ``val_clips`` holds out when it asks for more than half the videos
MIN_QUERIES = 2
WARN_HALF_WIDTH = 0.1


def split_records(records: list[dict], val_fraction: float,
                  val_clips: int | None = None) -> tuple[list[dict], list[dict]]:
    """Hold out ``val_fraction`` of the videos by a hash of their relative path (stable when the
    folder grows), or, when ``val_clips`` is given, the last ``val_clips`` videos in path order
    (at most half the folder, or the :data:`MIN_QUERIES` that scoring needs on a small one, always
    leaving one to train: a larger ``val_clips`` holds out a fifth of it, no fewer than
    :data:`MIN_QUERIES`, with a note). A folder too small for any such split is refused (:func:`too_few`).
    Labelled videos are held out per class (:func:`stratified`).
    """
    if not 0 <= val_fraction < 1:
        raise UserError(f"val_fraction: expected a number in [0, 1), got {val_fraction}")
    n = len(records)
    if val_clips is not None and val_clips < 0:
        raise UserError(f"data.val_clips: expected 0 or more videos, got {val_clips}")
    if val_clips is not None:
        order = sorted(range(n), key=lambda k: records[k].get("relpath", records[k]["path"]), reverse=True)
        n_val = val_clips
        if val_clips > 0:
            too_few(n)
        most = min(n - 1, max(n // 2, MIN_QUERIES))  # half the folder, or what scoring needs on a small one
        if val_clips > most:
            n_val = min(most, max(MIN_QUERIES, round(CAPPED_SHARE * n)))
            print(f"data.val_clips={val_clips}: the folder has {n} usable videos; holding out {n_val} "
                  f"(a fifth, at least {MIN_QUERIES}) instead (at most {most} can be held out)", file=sys.stderr)
    else:
        key = [zlib.crc32(os.fsencode(str(r.get("relpath", os.path.basename(r["path"]))))) for r in records]
        order = sorted(range(n), key=lambda k: (key[k], records[k]["path"]))
        n_val = round(val_fraction * n)
        if val_fraction > 0 and n > 1:
            n_val = max(1, n_val)
    held = set(stratified([records[k].get("label") for k in order], n_val))
    val = sorted(order[i] for i in held)
    train = sorted(order[i] for i in range(n) if i not in held)
    return [records[k] for k in train], [records[k] for k in val]


def stratified(labels: list, n_val: int) -> list[int]:
    """Positions (into ``labels``, given in the order of preference) of ``n_val`` held-out items.

    Unlabelled (fewer than two classes): the first ``n_val``. Labelled: each class's share of
    ``n_val`` (largest remainders), at least one and at most all but one of every class with two or
    more items while ``n_val`` allows (never more than ``n_val``: with fewer held-out items than
    such classes, the smallest classes go untested); what is still missing comes from classes that
    keep an item in training, then from classes of one item.
    """
    classes = defaultdict(list)
    for i, y in enumerate(labels):
        classes[y].append(i)
    if len([y for y in classes if y is not None]) < 2 or n_val <= 0:
        return list(range(min(n_val, len(labels))))
    exact = {y: n_val * len(idx) / len(labels) for y, idx in classes.items()}
    quota = {y: math.floor(q) for y, q in exact.items()}
    for y in sorted(exact, key=lambda y: quota[y] - exact[y])[: n_val - sum(quota.values())]:
        quota[y] += 1
    for y, idx in classes.items():
        if y is not None:
            quota[y] = 0 if len(idx) < 2 else min(max(quota[y], 1), len(idx) - 1)
    tested = sum(1 for y, idx in classes.items() if y is not None and len(idx) >= 2) <= n_val
    floor = {y: 1 if tested and y is not None and quota[y] else 0 for y in classes}
    while sum(quota.values()) > n_val:
        y = max((y for y in classes if quota[y] > floor[y]), key=lambda y: quota[y] - exact[y])
        quota[y] -= 1
    held = {i for y, idx in classes.items() for i in idx[: quota[y]]}
    taken = defaultdict(int, {y: quota[y] for y in classes})
    for singles in (False, True):
        for i, y in enumerate(labels):
            if len(held) >= n_val:
                break
            if i not in held and (y is None or taken[y] < len(classes[y]) - 1 or singles and len(classes[y]) == 1):
                held.add(i)
                taken[y] += 1
    return sorted(held)


def held_out_fifth(i: int, n: int) -> bool:
    """Whether the ``i``-th of a class's ``n`` items (in sorted order) is held out: every fifth, or
    the last of a class of 2 to 4 items (so that every class with two or more items is tested)."""
    return i % 5 == 4 or (2 <= n < 5 and i == n - 1)


def interval_95(n: int, p: float = 0.5) -> float:
    """Half-width of the normal-approximation 95% binomial interval of a rate over ``n`` queries
    (its widest, at ``p = 0.5``): what a score such as R@1 on ``n`` held-out clips can be trusted to."""
    return 1.96 * math.sqrt(p * (1 - p) / max(n, 1))


def too_few(videos: int) -> None:
    """Refuse a folder where no split holds out :data:`MIN_QUERIES` videos and trains on one."""
    if videos < MIN_QUERIES + 1:
        raise UserError(f"{videos} videos are too few: at least {MIN_QUERIES + 1} are needed "
                        f"({MIN_QUERIES} held out to score, 1 to train)")


def check_held_out(n: int, what: str = "held-out clips", hint: str = "--data.val_clips N",
                   videos: int | None = None) -> None:
    """Refuse fewer than :data:`MIN_QUERIES` held-out queries (nothing can be scored; a folder of
    fewer ``videos`` than any split needs, :func:`too_few`, says so instead); say how wide the
    figures of a small held-out set will be."""
    if n < MIN_QUERIES and videos is not None:
        too_few(videos)
    if n < MIN_QUERIES:
        raise UserError(f"{n} {what}: the end-of-fit figures need at least {MIN_QUERIES} "
                        f"(hold out more with {hint}, or add videos)")
    if interval_95(n) > WARN_HALF_WIDTH:
        print(f"{n} {what}: R@1 and accuracy will have a 95% interval of about ±{interval_95(n):.2f}",
              file=sys.stderr, flush=True)


__all__ = ["SPLITS", "TRAIN", "VAL", "check_held_out", "held_out_fifth", "interval_95", "split_records", "stratified"]
