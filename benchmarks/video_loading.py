"""Clips/s delivered by the clip DataLoader against the raw decoder, and memory over many clips.

For each worker count W: the DataLoader over :class:`multiview.data.video.clips.ClipDataset` with W
workers, and the raw decoder (``decode.read_frames`` + ``decode.read_audio`` on the same clips,
no Dataset, no collate) in W spawned processes. Both are timed after their first clip, so
process start-up is left out. Then RSS (main process + workers) over ``--rss-clips`` clips.

    python benchmarks/video_loading.py --index /tmp/av_index --out /tmp/video_loading.json
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from multiprocessing import get_context

import torch
from torch.utils.data import DataLoader

from multiview.core.io import write_json
from multiview.data.loader import EpochSampler
from multiview.data.video import decode
from multiview.data.video.clips import ClipDataset
from multiview.data.video.index import load_index

SETTINGS = dict(frame_size=64, sample_rate=16000, audio_seconds=1.0, no_audio="silence", seed=0)


def make_dataset(index: str, clips_per_video: int) -> ClipDataset:
    return ClipDataset(load_index(index), clips_per_video=clips_per_video, **SETTINGS)


def raw_clip(ds: ClipDataset, i: int) -> None:
    r = ds.records[(i % len(ds)) // ds.clips_per_video]
    idx, centre = ds.frame_indices(i)
    decode.read_frames(r["path"], ((idx + 0.5) / r["fps"]).tolist(), ds.frame_size)
    if r.get("audio_ok"):
        try:  # the dataset gives silence here (no_audio="silence"); so does the raw decoder
            decode.read_audio(r["path"], centre - ds.audio_seconds / 2, ds.audio_seconds, ds.sample_rate)
        except decode.DecodeError:
            pass


def _raw_worker(args) -> tuple[int, float]:
    index, clips_per_video, indices = args
    torch.set_num_threads(1)  # as in a DataLoader worker
    ds = make_dataset(index, clips_per_video)
    raw_clip(ds, indices[0])
    start = time.perf_counter()
    for i in indices[1:]:
        raw_clip(ds, i)
    return len(indices) - 1, time.perf_counter() - start


def raw_rate(index: str, clips_per_video: int, indices: list[int], workers: int) -> float:
    shards = [(index, clips_per_video, indices[w::workers]) for w in range(workers)]
    with get_context("spawn").Pool(workers) as pool:
        done = pool.map(_raw_worker, shards)
    return sum(n for n, _ in done) / max(t for _, t in done)


def loader(ds: ClipDataset, workers: int, batch_size: int, sampler) -> DataLoader:
    return DataLoader(ds, batch_size=batch_size, sampler=sampler,
                      num_workers=workers, multiprocessing_context="spawn" if workers else None,
                      prefetch_factor=4 if workers else None)


def loader_rate(ds: ClipDataset, workers: int, indices: list[int], batch_size: int) -> float:
    n, start, clips = 0, None, len(indices) - batch_size
    for batch in loader(ds, workers, batch_size, indices):
        if start is None:  # after the first batch: workers are up
            start = time.perf_counter()
        else:
            n += len(batch["index"])
        if n >= clips:
            break
    return n / (time.perf_counter() - start)


def rss_mb(pid: int) -> float:
    """RSS of ``pid`` and all its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def rss_run(ds: ClipDataset, workers: int, clips: int, batch_size: int) -> dict:
    """RSS sampled every 0.2 s until the last clip arrives (before the workers shut down).

    ``rss_growth_mb``: the highest sample after warm-up minus the first sample after warm-up;
    ``rss_end_growth_mb``: the last sample minus that first one.
    """
    samples: list[tuple[int, float]] = []
    seen = 0
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            samples.append((seen, rss_mb(os.getpid())))
            stop.wait(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    epoch = 0
    while seen < clips:
        sampler = EpochSampler(len(ds), seed=0)
        sampler.set_epoch(epoch)
        for batch in loader(ds, workers, batch_size, sampler):
            seen += len(batch["index"])
            if seen >= clips:
                stop.set()
                thread.join()
                samples.append((seen, rss_mb(os.getpid())))
                break
        epoch += 1
    warm = [m for n, m in samples if n >= min(200, clips // 10)]
    return {"clips": seen, "workers": workers, "rss_peak_mb": max(m for _, m in samples),
            "rss_after_warmup_mb": warm[0], "rss_end_mb": warm[-1], "rss_growth_mb": max(warm) - warm[0],
            "rss_end_growth_mb": warm[-1] - warm[0], "failed_files": len(ds.failed_files())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, max(4, os.cpu_count() or 1)])
    parser.add_argument("--clips", type=int, default=480, help="clips per throughput measurement")
    parser.add_argument("--rss-clips", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    ds = make_dataset(args.index, clips_per_video=64)
    indices = [int(i) for i in torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))]
    indices = indices[: args.clips + args.batch_size]
    results = {"settings": SETTINGS, "videos": len(ds.records), "cpus": os.cpu_count(), "throughput": []}
    for w in args.workers:
        raw = raw_rate(args.index, 64, indices, w)
        ours = loader_rate(ds, w, indices, args.batch_size)
        row = {"workers": w, "raw_clips_per_s": raw, "loader_clips_per_s": ours, "ratio": ours / raw}
        results["throughput"].append(row)
        print(f"workers={w}: raw decoder {raw:.1f} clips/s, DataLoader {ours:.1f} clips/s, ratio {ours / raw:.2f}",
              flush=True)
    results["memory"] = rss_run(ds, 2, args.rss_clips, args.batch_size)
    print(f"RSS over {results['memory']['clips']} clips: peak {results['memory']['rss_peak_mb']:.0f} MB, "
          f"growth after warm-up {results['memory']['rss_growth_mb']:.1f} MB (at the end "
          f"{results['memory']['rss_end_growth_mb']:.1f} MB)")
    write_json(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
