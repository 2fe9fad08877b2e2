"""Shards written with litdata and read back: round trip, bad files counted, resumable writing,
exact coverage per epoch at world sizes 1, 2 and 4, and an exact mid-epoch resume."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from litdata.utilities.env import _DistributedEnv

from multiview.core.errors import UserError
from multiview.data.video import index, shards
from multiview.data.video.clips import ClipDataset
from multiview.data.video.shard_stream import (
    ShardDataset,
    ShardLoader,
    collate,
    decode_batch_frames,
    read_meta,
)
from multiview.data.video.spec import ClipSpec
from tests.av_media import write_video

SPEC = shards.ShardSpec(ClipSpec(frame_size=16), clips_per_video=4, val_fraction=0.2, positions="uniform")
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
    from multiview.data.video.index import load_index

    records = {os.path.basename(r["path"]): r for r in load_index(root / "index.jsonl")}
    ds = ShardDataset(str(out / "train"), shuffle=False)
    seen = set()
    for i in range(len(ds)):
        s = ds[i]
        assert s["index"] == i and s["frame"].shape == (3, 16, 16)
        item = super(ShardDataset, ds).__getitem__(i)
        clips = ClipDataset([records[item["video"]]], SPEC.clip, clips_per_video=4, positions="uniform")
        match = [k for k in range(4) if abs(clips.frame_indices(k)[1] - s["time"]) < 1e-6]
        assert len(match) == 1
        ref = clips.load(match[0])
        assert (s["frame"] - ref["frame"]).abs().mean() < 0.02  # JPEG at quality 90
        assert torch.allclose(s["audio"], ref["audio"], atol=2 / 32767)
        seen.add((item["video"], match[0]))
    assert len(seen) == len(ds)


def test_val_clips_holds_out_the_videos_a_folder_run_holds_out(written, tmp_path):
    import multiprocessing
    from dataclasses import replace

    from multiview.data.splits import split_records
    from multiview.data.video.index import load_index

    root, _, _ = written
    records = load_index(root / "index.jsonl")
    start_method = multiprocessing.get_start_method(allow_none=True)
    meta = shards.write_shards(str(root / "index.jsonl"), str(tmp_path), replace(SPEC, val_clips=2),
                               workers=1, quiet=True)
    assert multiprocessing.get_start_method(allow_none=True) == start_method  # litdata's change undone
    _, folder_val = split_records(records, SPEC.val_fraction, val_clips=2)
    ds = ShardDataset(str(tmp_path / "val"), shuffle=False)
    held = {super(ShardDataset, ds).__getitem__(i)["video"] for i in range(len(ds))}
    usable = {os.path.basename(r["path"]) for r in folder_val} - {"corrupt.mp4"}
    assert held == usable and meta["spec"]["val_clips"] == 2
    assert meta["splits"]["val"]["videos"] == 2


def test_a_videos_clips_are_spread_across_the_split(written):
    """litdata shuffles within chunks: clips of one video written side by side would share batches."""
    _, out, meta = written
    ds = ShardDataset(str(out / "train"), shuffle=False)
    stored = [super(ShardDataset, ds).__getitem__(i)["video"] for i in range(len(ds))]
    # written a part (3 videos here) at a time, clip 0 of each, then clip 1, ...: a video's next clip
    # can follow it only where one pass of a part ends and the next begins
    parts = -(-meta["splits"]["train"]["videos"] // 3)
    side_by_side = sum(a == b for a, b in zip(stored, stored[1:]))
    assert side_by_side <= parts * (SPEC.clips_per_video - 1) < len(stored) - len(set(stored))
    order = shards.interleaved([{"path": p} for p in "abcd"], 3, seed=0)
    for k in range(3):
        assert sorted(o["record"]["path"] for o in order[4 * k:4 * k + 4]) == list("abcd")
        assert {o["clip"] for o in order[4 * k:4 * k + 4]} == {k}
    assert order == shards.interleaved([{"path": p} for p in "abcd"], 3, seed=0)


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
        shards.write_shards(str(root / "index.jsonl"), str(out), shards.ShardSpec(ClipSpec(frame_size=8)), quiet=True)


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


@pytest.mark.parametrize("workers_after", [0, 2])
def test_mid_epoch_resume_goes_on_at_the_next_sample(written, workers_after):
    _, out, meta = written
    full, _ = _epoch(out, 1, 0, workers=0)
    first, state = _epoch(out, 1, 0, workers=0, stop=3)
    rest, _ = _epoch(out, 1, 0, workers=workers_after, state=state)
    assert sorted(first + rest) == sorted(full) == list(range(meta["splits"]["train"]["samples"]))
    if workers_after == 0:  # the same topology: the very order of the uninterrupted epoch
        assert first + rest == full


def _fit_probe(out: Path, tmp: Path, world: int, batch: int, ckpt_path=None, **trainer):
    import lightning as L

    from tests.shard_probe import ShardProbe, data

    dm = data(str(out), batch)
    dm.setup("fit")
    s = dm.train_set[0]
    probe = ShardProbe(str(tmp / "probe"), len(dm.train_set), s["frame"].numel(), s["audio"].numel())
    kw = {"accelerator": "cpu", "devices": world, "strategy": "ddp_spawn" if world > 1 else "auto", "logger": False,
          "enable_progress_bar": False, "enable_model_summary": False, "num_sanity_val_steps": 0,
          "limit_val_batches": 0, "enable_checkpointing": False}
    L.Trainer(**{**kw, **trainer}).fit(probe, datamodule=dm, ckpt_path=ckpt_path)
    return [torch.load(f"{tmp}/probe.rank{r}", weights_only=True) for r in range(world)]


def _check_first_step(ranks: list[dict]) -> None:
    """Gathered negatives and the memory bank give what one process gives on the global batch."""
    from multiview.objectives.infonce import multiview_info_nce, view_pairs
    from multiview.objectives.memory_bank import MemoryBankNCE
    from tests.shard_probe import DIM, TAU, VIEWS, make_encoders

    first = ranks[0]["first"]
    x = {v: first[f"x_{v}"] for v in VIEWS}
    enc = make_encoders(x["frame"].shape[1], x["audio"].shape[1])
    z = {v: enc[v](x[v]) for v in VIEWS}
    loss, _ = multiview_info_nce(z, view_pairs(VIEWS, "full"), TAU)
    loss.backward()
    bank = MemoryBankNCE(VIEWS, DIM, n_data=ranks[0]["first"]["banks"]["frame"].shape[0], k=4)
    bank.update({v: torch.nn.functional.normalize(t.detach(), dim=1) for v, t in z.items()}, first["index"])
    for r in ranks:
        assert r["first"]["loss"].item() == pytest.approx(loss.item(), rel=1e-4)
        for name, p in enc.named_parameters():
            assert torch.allclose(r["first"]["grads"][name], p.grad, atol=1e-5, rtol=1e-3), name
        for v in VIEWS:
            assert torch.allclose(r["first"]["banks"][v], getattr(bank, f"bank_{v}"), atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("world", [2, 4])
def test_ddp_processes_cover_each_sample_once_with_gathered_negatives(written, tmp_path, world):
    _, out, meta = written
    n = meta["splits"]["train"]["samples"]
    assert n % 4 == 0
    ranks = _fit_probe(out, tmp_path, world, n // world, max_epochs=2)
    for epoch in range(2):
        seen = sorted(i for r in ranks for e, idx in r["seen"] if e == epoch for i in idx)
        assert seen == list(range(n)), epoch
    _check_first_step(ranks)


@pytest.mark.slow
def test_two_torchrun_nodes_on_localhost(written, tmp_path):
    import socket
    import subprocess
    import sys

    _, out, meta = written
    n = meta["splits"]["train"]["samples"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    probe = Path(__file__).resolve().parents[1] / "shard_probe.py"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
           "--master_addr", "127.0.0.1", "--master_port", str(port)]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo"}
    nodes = [subprocess.Popen([*cmd, "--node_rank", str(r), str(probe), str(out), str(tmp_path / "probe"),
                               str(n // 2)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for r in range(2)]
    logs = [p.communicate(timeout=600)[0].decode()[-2000:] for p in nodes]
    assert all(p.returncode == 0 for p in nodes), logs
    ranks = [torch.load(f"{tmp_path}/probe.rank{r}", weights_only=True) for r in range(2)]
    for epoch in range(2):
        assert sorted(i for r in ranks for e, idx in r["seen"] if e == epoch for i in idx) == list(range(n))
    _check_first_step(ranks)


@pytest.mark.slow
def test_ddp_mid_epoch_resume_is_exact(written, tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    _, out, meta = written
    n = meta["splits"]["train"]["samples"]
    ck = ModelCheckpoint(dirpath=tmp_path / "ck", every_n_train_steps=1, save_top_k=-1)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = _fit_probe(out, tmp_path / "a", 2, n // 4, max_steps=1, callbacks=[ck], enable_checkpointing=True)
    rest = _fit_probe(out, tmp_path / "b", 2, n // 4, max_epochs=1,
                      ckpt_path=str(tmp_path / "ck" / "epoch=0-step=1.ckpt"))
    before = [i for r in first for _, idx in r["seen"] for i in idx]
    after = [i for r in rest for _, idx in r["seen"] for i in idx]
    assert len(before) == len(after) == n // 2
    assert sorted(before + after) == list(range(n))
