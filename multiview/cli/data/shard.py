"""``multiview data shard INDEX --out DIR``: cut an indexed folder of videos into litdata shards.

Each video gives ``--clips_per_video`` samples (frames as JPEG at ``--frame_size`` and
``--fps``, the aligned audio window as int16 PCM, label and caption), written to ``DIR/train``
and ``DIR/val`` in parallel (``--workers``); see :mod:`multiview.data.video.shards`. Run it again
with the same arguments to finish an interrupted run; videos that fail to decode are skipped and
counted in ``DIR/shards.json``. ``DIR`` must be new, empty or written by this command before (it
carries the suite's output marker): a folder of other files is refused and left as it was.
``INDEX`` is an index from ``multiview data index`` or a folder (indexed on the way). Train on
the shards with ``--data multiview.data.video.shard_stream.ShardDataModule --data.shards DIR``.
"""

from __future__ import annotations

import argparse
import time

from multiview.core.outputs import claim_output
from multiview.data.video.index import resolve_index
from multiview.data.video.shards import ShardSpec, summary_line, write_shards
from multiview.data.video.spec import CLIP_ARGS, NO_AUDIO, ClipSpec


def main(argv: list[str] | None = None) -> int:
    c, d = ClipSpec(), ShardSpec()
    p = argparse.ArgumentParser(prog="multiview data shard", description=__doc__.splitlines()[0])
    p.add_argument("index", help="index file (multiview data index) or folder of videos")
    p.add_argument("--out", required=True, help="output folder (local path or litdata URL)")
    p.add_argument("--frames", type=int, default=c.frames, help=CLIP_ARGS["frames"])
    p.add_argument("--fps", type=float, default=c.fps, help=CLIP_ARGS["fps"])
    p.add_argument("--frame_size", type=int, default=c.frame_size, help=CLIP_ARGS["frame_size"])
    p.add_argument("--sample_rate", type=int, default=c.sample_rate, help=CLIP_ARGS["sample_rate"])
    p.add_argument("--audio_seconds", type=float, default=c.audio_seconds, help=CLIP_ARGS["audio_seconds"])
    p.add_argument("--no_audio", choices=NO_AUDIO, default=c.no_audio, help=CLIP_ARGS["no_audio"])
    p.add_argument("--clips_per_video", type=int, default=d.clips_per_video,
                   help="samples cut from each training video")
    p.add_argument("--positions", choices=("uniform", "random"), default=d.positions,
                   help="where the training samples sit in a video")
    p.add_argument("--val_fraction", type=float, default=d.val_fraction,
                   help="share of the videos held out, chosen by a hash of their path")
    p.add_argument("--val_clips", type=int, default=d.val_clips,
                   help="hold out exactly the last N videos in path order instead (as a numbered corpus expects)")
    p.add_argument("--jpeg_quality", type=int, default=d.jpeg_quality)
    p.add_argument("--seed", type=int, default=d.seed, help="seed of random positions and of the cutting order")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--part_size", type=int, default=256, help="videos per resumable part")
    p.add_argument("--chunk_bytes", default="64MB")
    args = p.parse_args(argv)
    clip = ClipSpec(frames=args.frames, fps=args.fps, frame_size=args.frame_size, sample_rate=args.sample_rate,
                    audio_seconds=args.audio_seconds, no_audio=args.no_audio)
    spec = ShardSpec(clip, clips_per_video=args.clips_per_video, positions=args.positions,
                     val_fraction=args.val_fraction, val_clips=args.val_clips, jpeg_quality=args.jpeg_quality,
                     seed=args.seed)
    start = time.perf_counter()
    claim_output(args.out, "data shard")  # before indexing: a folder of the user's own files is left as it was
    meta = write_shards(resolve_index(args.index, args.workers), args.out, spec, workers=args.workers,
                        part_size=args.part_size, chunk_bytes=args.chunk_bytes)
    print(f"{summary_line(meta)} ({time.perf_counter() - start:.1f} s) -> {args.out}")
    return 0
