"""Shards written with litdata and read back: round trip, bad files counted, resumable writing,
exact coverage per epoch at world sizes 1, 2 and 4, and an exact mid-epoch resume."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from litdata.utilities.env import _DistributedEnv

from multiview.data import index, shards
from multiview.data.clips import ClipDataset
from multiview.data.shard_stream import (
    ShardDataset,
    ShardLoader,
    collate,
    decode_batch_frames,
    read_meta,
)
from multiview.errors import UserError
from tests.av_media import write_video

SPEC = shards.ShardSpec(frame_size=16, clips_per_video=4, val_fraction=0.2, positions="uniform")
GOOD = 6


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("shard_videos")
    for k in range(GOOD):
        write_video(root / f"v{k}.mp4", click_frame=2 + k)
    write_video(root / "corrupt.mp4")
    index.build_index(root, root / "index.jsonl", workers=1, quiet=True)
    data = (root / "corrupt.mp4").read_bytes()  # damaged after indexing: listed, but cannot be decoded
    (root / "corrupt.mp4").write_bytes(data[:200] + bytes(len(data) - 200))
    out = tmp_path_factory.mktemp("shards")
    meta = shards.write_shards(str(root / "index.jsonl"), str(out), SPEC, workers=1, part_size=3, quiet=True)
    return root, out, meta


def test_bad_files_are_skipped_and_counted(written):
    root, out, meta = written
    failed = [f["path"] for s in meta["splits"].values() for f in s["failed"]]
    assert failed == [str(root / "corrupt.mp4")]
    for name, s in meta["splits"].items():  # held-out videos give one clip each, as the folder module's
        assert s["samples"] == (s["videos"] - len(s["failed"])) * (SPEC.clips_per_video if name == "train" else 1)
    assert sum(s["videos"] for s in meta["splits"].values()) == GOOD + 1
    assert read_meta(str(out))["splits"]["train"]["samples"] == len(ShardDataset(str(out / "train")))


def test_samples_round_trip_against_the_decoder(written):
    root, out, _ = written
    from multiview.data.index import load_index

    records = {os.path.basename(r["path"]): r for r in load_index(root / "index.jsonl")}
    ds = ShardDataset(str(out / "train"), shuffle=False)
    seen = set()
    for i in range(len(ds)):
        s = ds[i]
        assert s["index"] == i and s["frame"].shape == (3, 16, 16)
        item = super(ShardDataset, ds).__getitem__(i)
        clips = ClipDataset([records[item["video"]]], frame_size=16, clips_per_video=4, positions="uniform")
        match = [k for k in range(4) if abs(clips.frame_indices(k)[1] - s["time"]) < 1e-6]
        assert len(match) == 1
        ref = clips.load(match[0])
        assert (s["frame"] - ref["frame"]).abs().mean() < 0.02  # JPEG at quality 90
        assert torch.allclose(s["audio"], ref["audio"], atol=2 / 32767)
        seen.add((item["video"], match[0]))
    assert len(seen) == len(ds)


def test_frames_decoded_on_the_batch_match_worker_decoding(written):
    _, out, _ = written
    a = ShardDataset(str(out / "train"), shuffle=False)
    b = ShardDataset(str(out / "train"), shuffle=False, frame_decode="device")
    batch = decode_batch_frames(collate([b[i] for i in range(5)]), "cpu")
    assert torch.equal(batch["frame"], torch.stack([a[i]["frame"] for i in range(5)]))


def test_writing_resumes_at_the_first_unfinished_part(written, monkeypatch):
    root, out, meta = written
    calls = []
    real = shards._optimize
    monkeypatch.setattr(shards, "_optimize", lambda recs, part, *a: (calls.append(part.name), real(recs, part, *a)))
    again = shards.write_shards(str(root / "index.jsonl"), str(out), SPEC, workers=1, part_size=3, quiet=True)
    assert calls == [] and again == meta
    (out / ".parts" / "train-00001.done").unlink()  # as if stopped while writing the second part
    again = shards.write_shards(str(root / "index.jsonl"), str(out), SPEC, workers=1, part_size=3, quiet=True)
    assert calls == ["train-00001"] and again == meta
    with pytest.raises(UserError, match="other settings"):
        shards.write_shards(str(root / "index.jsonl"), str(out), shards.ShardSpec(frame_size=8), quiet=True)


def _epoch(out: Path, world: int, rank: int, workers: int, batch: int = 2, state=None, stop=None):
    ds = ShardDataset(str(out / "train"), shuffle=True, seed=3)
    ds.distributed_env = _DistributedEnv(world, rank, 1)
    loader = ShardLoader(ds, batch_size=batch, num_workers=workers, collate_fn=collate)
    if state is not None:
        loader.load_state_dict(state)
    seen = []
    for k, b in enumerate(loader):
        seen += b["index"].tolist()
        if stop is not None and k + 1 == stop:
            return seen, loader.state_dict()
    return seen, None


@pytest.mark.parametrize("world", [1, 2, 4])
def test_each_sample_once_per_epoch_across_ranks(written, world):
    _, out, meta = written
    n = meta["splits"]["train"]["samples"]
    per_rank = [_epoch(out, world, r, workers=0)[0] for r in range(world)]
    everything = sorted(i for seen in per_rank for i in seen)
    assert everything == list(range(n))
    assert _epoch(out, world, 0, workers=0)[0] == per_rank[0]  # the shuffle is seeded


@pytest.mark.parametrize("workers_after", [2, 1])
def test_mid_epoch_resume_goes_on_at_the_next_sample(written, workers_after):
    _, out, meta = written
    full, _ = _epoch(out, 1, 0, workers=2)
    first, state = _epoch(out, 1, 0, workers=2, stop=3)
    rest, _ = _epoch(out, 1, 0, workers=workers_after, state=state)
    assert sorted(first + rest) == sorted(full) == list(range(meta["splits"]["train"]["samples"]))
    if workers_after == 2:
        assert first + rest == full
