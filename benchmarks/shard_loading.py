"""Samples/s per core: reading litdata shards against decoding the same clips from the videos.

Cuts the index into shards (``multiview data shard``, or reuses ``--shards``), then, on one core
(``torch.set_num_threads(1)``, no loader workers), times

* ``shards``: batches from :class:`multiview.data.video.shard_stream.ShardLoader` (JPEG decoded on the CPU);
* ``decode``: the same clips (same videos, positions, size, audio window) through
  :class:`multiview.data.video.clips.ClipDataset`, as a folder run reads them.

Both are timed after their first batch. Goal: ``ratio >= 10``.

    python benchmarks/shard_loading.py --index /tmp/av_index --out /tmp/shard_loading.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multiview.core.io import write_json
from multiview.data.splits import split_records
from multiview.data.video import shards
from multiview.data.video.clips import ClipDataset
from multiview.data.video.index import load_index
from multiview.data.video.shard_stream import ShardDataset, ShardLoader, collate


def shard_rate(folder: str, batch: int, min_samples: int) -> tuple[float, int]:
    ds = ShardDataset(os.path.join(folder, "train"), shuffle=True, seed=0)
    loader = ShardLoader(ds, batch_size=batch, num_workers=0, collate_fn=collate)
    n, start = 0, None
    while n < min_samples:
        for b in loader:
            if start is None:
                start = time.perf_counter()
                continue
            n += len(b["index"])
    return n / (time.perf_counter() - start), n


def decode_rate(index: str, spec: shards.ShardSpec, clips: int) -> tuple[float, int]:
    train, _ = split_records(load_index(index), spec.val_fraction)
    ds = ClipDataset(train, spec.clip, clips_per_video=spec.clips_per_video, positions=spec.positions)
    picks = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[:clips + 1].tolist()
    ds[picks[0]]
    start = time.perf_counter()
    for i in picks[1:]:
        ds[i]
    return (len(picks) - 1) / (time.perf_counter() - start), len(picks) - 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--shards", help="shards already cut from --index with the defaults (else cut into a temp folder)")
    p.add_argument("--decode_clips", type=int, default=64)
    p.add_argument("--shard_samples", type=int, default=2000)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2, help="processes for cutting the shards")
    args = p.parse_args()
    torch.set_num_threads(1)
    spec = shards.ShardSpec()
    folder = args.shards
    tmp = None
    if folder is None:
        tmp = tempfile.TemporaryDirectory()
        folder = tmp.name
    start = time.perf_counter()
    meta = shards.write_shards(args.index, folder, spec, workers=args.workers, quiet=True)
    cut_s = time.perf_counter() - start
    sr, sn = shard_rate(folder, args.batch_size, args.shard_samples)
    dr, dn = decode_rate(args.index, spec, args.decode_clips)
    result = {"index": os.path.abspath(args.index), "spec": meta["spec"],
              "train_samples": meta["splits"]["train"]["samples"], "cut_seconds_or_reused": cut_s,
              "shards_samples_per_s_per_core": sr, "shards_samples_timed": sn,
              "decode_samples_per_s_per_core": dr, "decode_samples_timed": dn,
              "ratio": sr / dr, "goal_ratio": 10.0, "cpu": os.cpu_count()}
    write_json(args.out, result)
    print(f"shards {sr:,.0f} samples/s/core vs decoding {dr:,.1f}: {sr / dr:.1f}x (goal 10x) -> {args.out}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
