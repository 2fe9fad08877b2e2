"""``multiview data shard INDEX --out DIR``: cut an indexed folder of videos into litdata shards.

Each video gives ``--clips_per_video`` samples (frames as JPEG at ``--frame_size`` and
``--fps``, the aligned audio window as int16 PCM, label and caption), written to ``DIR/train``
and ``DIR/val`` in parallel (``--workers``). Run it again with the same arguments to finish an
interrupted run; videos that fail to decode are skipped and counted in ``DIR/shards.json``.
``INDEX`` is an index from ``multiview data index`` or a folder (indexed on the way).
"""

from __future__ import annotations

import argparse
import time

from multiview.data.video.shards import ShardSpec, summary_line, write_shards


def main(argv: list[str] | None = None) -> int:
    d = ShardSpec()
    p = argparse.ArgumentParser(prog="multiview data shard", description=__doc__.splitlines()[0])
    p.add_argument("index", help="index file (multiview data index) or folder of videos")
    p.add_argument("--out", required=True, help="output folder (local path or litdata URL)")
    p.add_argument("--frames", type=int, default=d.frames)
    p.add_argument("--fps", type=float, default=d.fps, help="frame rate of a clip (default: the video's own)")
    p.add_argument("--frame_size", type=int, default=d.frame_size)
    p.add_argument("--sample_rate", type=int, default=d.sample_rate)
    p.add_argument("--audio_seconds", type=float, default=d.audio_seconds)
    p.add_argument("--clips_per_video", type=int, default=d.clips_per_video)
    p.add_argument("--positions", choices=("uniform", "random"), default=d.positions)
    p.add_argument("--no_audio", choices=("skip", "silence"), default=d.no_audio)
    p.add_argument("--val_fraction", type=float, default=d.val_fraction)
    p.add_argument("--val_clips", type=int, default=d.val_clips,
                   help="hold out exactly the last N videos in path order instead (as a numbered corpus expects)")
    p.add_argument("--jpeg_quality", type=int, default=d.jpeg_quality)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--part_size", type=int, default=256, help="videos per resumable part")
    p.add_argument("--chunk_bytes", default="64MB")
    args = p.parse_args(argv)
    from multiview.data.video.datamodule import resolve_index

    spec = ShardSpec(**{k: getattr(args, k) for k in d.__dataclass_fields__})
    start = time.perf_counter()
    meta = write_shards(resolve_index(args.index, args.workers), args.out, spec, workers=args.workers,
                        part_size=args.part_size, chunk_bytes=args.chunk_bytes)
    print(f"{summary_line(meta)} ({time.perf_counter() - start:.1f} s) -> {args.out}")
    return 0
