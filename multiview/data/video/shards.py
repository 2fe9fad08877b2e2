"""Shards of pre-cut audio-visual samples, written and read with litdata.

Decoding a clip from its video at random costs tens of milliseconds of a core; a trainer that
takes thousands of samples a second needs the clips cut once, stored in large compressed chunks
and read in sequence. :func:`write_shards` cuts every indexed video (:mod:`.index`) into
``clips_per_video`` samples with :class:`multiview.data.video.clips.ClipDataset` (the same frames and
audio window a folder run would see at ``positions``) and writes them with ``litdata.optimize``:

``{"jpeg0".."jpeg{T-1}": bytes (JPEG frames), "audio": int16 [n] (mono PCM), "label": int,
"caption": str, "time": float, "video": str}``

Clips are cut and written clip-major (:func:`interleaved`): litdata shuffles within a chunk, not
across chunks, so each chunk must hold clips of many videos.

``DIR/train`` and ``DIR/val`` (videos held out by :func:`multiview.data.splits.split_records`:
``val_fraction`` of them by a hash of the path, or the last ``val_clips``; one clip from the middle of
each, as the folder data module holds out) are plain litdata datasets; ``DIR/shards.json``
records how they were cut (the :class:`ShardSpec`, flat) and which files failed. ``DIR`` carries the
suite's output marker (:func:`multiview.core.outputs.claim_output`): a folder that holds files the
suite did not write is refused before anything in it is touched.
Videos are written in parts of ``part_size``; a part is a litdata dataset under ``DIR/.parts``
that is kept once complete, so an interrupted run starts again at the first unfinished part. The
finished parts are merged (``litdata.merge_datasets``). A video that fails to decode is skipped
and counted. Log-mel spectrograms are not stored: they are computed on the batch, on the model's
device (:func:`multiview.objectives.sound_texture.audio_features`), from the PCM.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

os.environ.setdefault("LITDATA_DISABLE_VERSION_CHECK", "1")  # litdata must not look for updates online

import numpy as np
import torch

from multiview.core.errors import UserError
from multiview.core.io import read_json, write_json
from multiview.core.outputs import claim_output
from multiview.data.media import shown
from multiview.data.splits import SPLITS, VAL, split_records
from multiview.data.video.clips import ClipDataset
from multiview.data.video.index import load_index
from multiview.data.video.shard_stream import FORMAT
from multiview.data.video.spec import ClipSpec
from multiview.data.workers import die_with_parent


@dataclass(frozen=True)
class ShardSpec:
    """How shards are cut: what a clip is (:class:`ClipSpec`, which the reader checks against its
    own) and what only the writer decides.

    Args:
        clip: frames, rate, size and sound of a sample.
        clips_per_video: samples cut from each training video (held-out videos give one).
        positions: where the training samples sit in a video: "uniform" or "random".
        val_fraction: share of the videos held out (:func:`multiview.data.splits.split_records`).
        val_clips: hold out exactly the last ``val_clips`` videos in path order instead.
        jpeg_quality: quality of the stored JPEG frames.
        seed: seed of random positions and of the cutting order.
    """

    clip: ClipSpec = field(default_factory=ClipSpec)
    clips_per_video: int = 8
    positions: str = "uniform"
    val_fraction: float = 0.1
    val_clips: int | None = None
    jpeg_quality: int = 90
    seed: int = 0

    def settings(self) -> dict:
        """Flat, as ``shards.json`` records them: the clip's fields, then the writer's."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "clip"}
        return {**self.clip.to_dict(), **own}


def encode_sample(sample: dict, quality: int) -> dict:
    """A :class:`ClipDataset` sample as stored: JPEG frames, int16 PCM."""
    from torchvision.io import encode_jpeg

    frames = sample["frame"][None] if "frame" in sample else sample["frames"]
    frames = frames.mul(255).round_().clamp_(0, 255).to(torch.uint8)
    out = {f"jpeg{t}": encode_jpeg(f, quality=quality).numpy().tobytes() for t, f in enumerate(frames)}
    pcm = sample["audio"].clamp(-1, 1).mul(32767).round().to(torch.int16).numpy()
    out.update(audio=pcm, label=int(sample["label"]), caption=str(sample["caption"]),
               time=float(sample["time"]))
    return out


class _Cutter:
    """The function litdata runs in its workers on one ``{"record", "clip"}`` input: that clip of
    that video, or nothing (the video's failure recorded once, by its path)."""

    def __init__(self, spec: ShardSpec, label_names: list[str], failed_dir: str):
        self.spec, self.label_names, self.failed_dir = spec, label_names, failed_dir

    def __getstate__(self) -> dict:
        return {**self.__dict__, "parent": os.getpid()}

    def __setstate__(self, state: dict) -> None:
        # litdata's workers and chunk writers unpickle the cutter as they start (spawn): the first
        # code of ours they run. They die with the process that started them, also under SIGKILL.
        parent = state.pop("parent")
        self.__dict__.update(state)
        if os.getpid() != parent:  # a copy made in the parent itself (deepcopy) changes nothing
            die_with_parent(parent)

    def __call__(self, item: dict):
        s, record = self.spec, item["record"]
        ds = ClipDataset([record], s.clip, clips_per_video=s.clips_per_video, positions=s.positions,
                         seed=s.seed, label_names=self.label_names)
        try:
            sample = encode_sample(ds.load(item["clip"]), s.jpeg_quality)
        except Exception as e:  # noqa: BLE001 -- a corrupt file is skipped and counted, whatever the decoder raised
            name = hashlib.sha1(os.fsencode(record["path"])).hexdigest()[:16] + ".json"
            write_json(Path(self.failed_dir) / name, {"path": record["path"], "error": str(e)[:300]})
            return
        yield {**sample, "video": shown(record.get("relpath", os.path.basename(record["path"])))}


def interleaved(records: list[dict], clips: int, seed: int) -> list[dict]:
    """The cutting order: clip 0 of every video, then clip 1 of every video, ..., the videos in a
    fresh seeded order in each pass. litdata shuffles chunks and samples within a chunk, never
    across chunks, so a video's clips written side by side would fill a batch with one video (in
    a contrastive batch, with negatives that are positives)."""
    order = []
    for k in range(clips):
        perm = np.random.default_rng([seed, k]).permutation(len(records))
        order += [{"record": records[j], "clip": k} for j in perm]
    return order


def _optimize(records: list[dict], out: Path, cutter: _Cutter, workers: int, chunk_bytes: str) -> None:
    from litdata import optimize

    inputs = interleaved(records, cutter.spec.clips_per_video, cutter.spec.seed)
    before = multiprocessing.get_start_method(allow_none=True)
    try:
        optimize(fn=cutter, inputs=inputs, output_dir=str(out), chunk_bytes=chunk_bytes, compression="zstd",
                 num_workers=max(1, min(workers, len(inputs))), reorder_files=False, verbose=False,
                 start_method="spawn")
    finally:  # litdata sets the process-wide start method; the caller's stays as it was
        multiprocessing.set_start_method(before, force=True)


def _write_split(name: str, records: list[dict], root: Path, spec: ShardSpec, label_names: list[str],
                 workers: int, part_size: int, chunk_bytes: str, say) -> dict:
    if name == VAL:  # as the folder data module holds out: one clip from the middle of each video
        spec = replace(spec, clips_per_video=1, positions="uniform")
    parts_dir = root / ".parts"
    failed_dir = parts_dir / f"{name}.failed"
    failed_dir.mkdir(parents=True, exist_ok=True)
    cutter = _Cutter(spec, label_names, str(failed_dir))
    parts = []
    for p, start in enumerate(range(0, len(records), part_size)):
        part = parts_dir / f"{name}-{p:05d}"
        done = part.with_name(part.name + ".done")
        if not done.exists():
            shutil.rmtree(part, ignore_errors=True)  # a part cut short: start it again
            say(f"{name}: videos {start}..{min(start + part_size, len(records)) - 1} of {len(records)}")
            _optimize(records[start:start + part_size], part, cutter, workers, chunk_bytes)
            done.touch()
        if (part / "index.json").exists() and read_json(part / "index.json").get("chunks"):
            parts.append(part)  # a part whose videos all failed holds no chunks
    target = root / name
    merged, record = target / "index.json", parts_dir / f"{name}.merged.json"
    names = [p.name for p in parts]
    fresh = merged.exists() and record.exists() and read_json(record) == names and all(
        p.with_name(p.name + ".done").stat().st_mtime <= merged.stat().st_mtime for p in parts)
    if parts and not fresh:  # a split already merged from these parts is left alone: readers may use it
        shutil.rmtree(target, ignore_errors=True)
        if len(parts) == 1:
            shutil.copytree(parts[0], target)
        else:
            from litdata import merge_datasets

            merge_datasets([str(p) for p in parts], str(target))
        write_json(record, names)
    failed = sorted((read_json(f) for f in failed_dir.glob("*.json")), key=lambda f: f["path"])
    n = 0
    if parts:
        n = sum(c["chunk_size"] for c in read_json(target / "index.json")["chunks"])
    silent = sum(1 for r in records if not r.get("audio_ok")) if spec.clip.no_audio == "skip" else 0
    return {"videos": len(records), "samples": n, "failed": failed, "skipped_without_audio": silent}


def write_shards(index: str, out: str, spec: ShardSpec, workers: int = 2, part_size: int = 256,
                 chunk_bytes: str = "64MB", quiet: bool = False) -> dict:
    """Cut the videos of ``index`` into ``out/train`` and ``out/val``; returns ``out/shards.json``'s content."""
    if part_size < 1:
        raise UserError(f"part_size: expected a positive number of videos, got {part_size}")
    root = claim_output(out, "data shard")  # refuses a folder holding files the suite did not write
    meta_path = root / "shards.json"
    records = load_index(index)
    if not records:
        raise UserError(f"{index}: the index lists no usable videos")
    settings = spec.settings()
    started = root / ".parts" / "spec.json"
    if started.exists():
        before = read_json(started)
        part_size = before.pop("part_size", part_size)  # parts are cut as they were first cut
        if before != {**settings, "index": os.path.abspath(index)}:
            raise UserError(f"{out}: holds parts cut from another index or with other settings "
                            f"({started}); give an empty --out")
    write_json(started, {**settings, "index": os.path.abspath(index), "part_size": part_size})
    label_names = sorted({r["label"] for r in records if r.get("label") is not None})
    train, val = split_records(records, spec.val_fraction, spec.val_clips)
    say = (lambda m: None) if quiet else (lambda m: print(m, flush=True))
    splits = {name: _write_split(name, recs, root, spec, label_names, workers, part_size, chunk_bytes, say)
              for name, recs in zip(SPLITS, (train, val)) if recs}
    meta = {"format": FORMAT, "spec": settings, "label_names": label_names, "index": os.path.abspath(index),
            "splits": splits}
    write_json(meta_path, meta)
    return meta


def summary_line(meta: dict) -> str:
    parts = [f"{name}: {s['samples']} samples from {s['videos'] - len(s['failed']) - s['skipped_without_audio']}"
             f" videos, {len(s['failed'])} failed, {s['skipped_without_audio']} without audio skipped"
             for name, s in meta["splits"].items()]
    if any(s["failed"] for s in meta["splits"].values()):
        warnings.warn("failed: " + ", ".join(f["path"] for s in meta["splits"].values() for f in s["failed"][:5]),
                      stacklevel=2)
    return "; ".join(parts)


__all__ = ["ClipSpec", "ShardSpec", "encode_sample", "summary_line", "write_shards"]
