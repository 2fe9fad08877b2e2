"""Clips over an index: aligned frames and sound, reproducible positions, bad files survived."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from multiview.core.errors import UserError
from multiview.data.loader import EpochSampler
from multiview.data.splits import split_records
from multiview.data.video import index
from multiview.data.video.clips import ClipDataset
from multiview.data.video.datamodule import VideoFolderDataModule
from multiview.data.video.spec import ClipSpec
from tests.av_media import FPS, brightness, make_corpus, write_video

ODD = Path(__file__).resolve().parents[3] / "shared" / "data" / "av" / "odd"
SR = 16000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    make_corpus(root)
    records = index.build_index(root, root / "index.jsonl", workers=2, quiet=True)[0]
    return root, {Path(r["relpath"]).as_posix(): r for r in records}


def _level(frames: torch.Tensor) -> np.ndarray:
    """Mean grey level (0-255) of each frame in ``[T, 3, H, W]``."""
    return frames.mean(dim=(1, 2, 3)).numpy() * 255


def _onset(audio: torch.Tensor) -> int | None:
    loud = np.nonzero(np.abs(audio.numpy()) > 0.05)[0]
    return int(loud[0]) if len(loud) else None


def test_frames_and_sound_are_aligned(corpus):
    _, recs = corpus
    for name, click in (("good.mp4", 5), ("sub/good_stereo.mov", 12), ("six_channels.mp4", 5)):
        ds = ClipDataset([recs[name]], frame_size=32, sample_rate=SR, audio_seconds=0.4,
                         clips_per_video=16, positions="uniform")
        hits = 0
        for i in range(len(ds)):
            s = ds[i]
            idx, centre = ds.frame_indices(i)
            assert abs(_level(s["frame"][None])[0] - brightness(int(idx[0]))) < 4
            assert centre == pytest.approx((idx[0] + 0.5) / FPS)
            # The click starts at click / FPS seconds; where it falls inside the window, find it there.
            expected = round((click / FPS - (centre - 0.2)) * SR)
            if 0 <= expected < len(s["audio"]) - 200:
                assert _onset(s["audio"]) == pytest.approx(expected, abs=40), (name, i)
                hits += 1
            elif expected >= len(s["audio"]) or expected < -0.06 * SR:
                assert _onset(s["audio"]) is None, (name, i)
        assert hits >= 2, name


def test_multi_frame_clips_at_a_chosen_rate(corpus):
    _, recs = corpus
    ds = ClipDataset([recs["good.mp4"]], frames=4, fps=FPS / 2, frame_size=32, clips_per_video=3,
                     positions="uniform", sample_rate=SR, audio_seconds=0.5)
    for i in range(len(ds)):
        s = ds[i]
        idx, _ = ds.frame_indices(i)
        assert s["frames"].shape == (4, 3, 32, 32) and "frame" not in s
        assert np.diff(idx).tolist() == [2, 2, 2]
        assert np.allclose(_level(s["frames"]), [brightness(int(k)) for k in idx], atol=4)


def test_random_positions_are_seeded_per_epoch(corpus):
    _, recs = corpus
    records = [recs["good.mp4"], recs["six_channels.mp4"]]
    a = ClipDataset(records, clips_per_video=8, frame_size=32, seed=3)
    b = ClipDataset(records, clips_per_video=8, frame_size=32, seed=3)
    c = ClipDataset(records, clips_per_video=8, frame_size=32, seed=4)
    n = len(a)
    times = [a.frame_indices(i)[1] for i in range(2 * n)]
    assert times == [b.frame_indices(i)[1] for i in range(2 * n)]
    assert times[:n] != times[n:]  # a new epoch draws new positions
    assert times[:n] != [c.frame_indices(i)[1] for i in range(n)]
    assert torch.equal(a[5]["frame"], b[5]["frame"]) and torch.equal(a[5]["audio"], b[5]["audio"])


def test_no_audio_policy_and_awkward_files(corpus):
    _, recs = corpus
    records = list(recs.values())
    skip = ClipDataset(records, frame_size=32)
    assert {Path(r["path"]).name for r in skip.excluded} == {"no_audio.mp4", "bad_audio.mp4", "no_duration.webm"}
    silence = ClipDataset(records, frame_size=32, positions="uniform", no_audio="silence")
    assert len(silence.records) == len(records)
    by_name = {Path(r["path"]).name: silence[k] for k, r in enumerate(silence.records)}
    assert by_name["no_audio.mp4"]["audio"].abs().max() == 0
    assert by_name["bad_audio.mp4"]["audio"].abs().max() == 0
    assert by_name["six_channels.mp4"]["audio"].abs().max() > 0.1  # 5.1 downmixed to mono
    assert by_name["one_pixel.mp4"]["frame"].shape == (3, 32, 32)
    assert silence.failed_files() == []


@pytest.mark.slow
def test_a_file_broken_after_indexing_is_skipped_and_counted(tmp_path):
    root = tmp_path / "v"
    root.mkdir()
    for k in range(4):
        write_video(root / f"clip{k}.mp4", click_frame=None)
    records = index.build_index(root, tmp_path / "idx", workers=1, quiet=True)[0]
    (root / "clip2.mp4").write_bytes(b"\x00" * 64)  # corrupted after it was indexed
    ds = ClipDataset(records, ClipSpec(frame_size=32), clips_per_video=3)
    loader = DataLoader(ds, batch_size=4, num_workers=2, sampler=EpochSampler(len(ds), seed=0),
                        multiprocessing_context="spawn")
    seen = torch.cat([b["index"] for b in loader])  # workers warn "skipping ...clip2.mp4" on stderr
    assert len(seen) == len(ds)
    assert not any(6 <= i < 9 for i in seen.tolist())  # clip2's three clips were replaced
    assert ds.failed_files() == [str(root / "clip2.mp4")]  # counted across worker processes


def test_sampler_splits_ranks_deterministically():
    n, world = 10, 3
    shards = [list(EpochSampler(n, seed=1, num_replicas=world, rank=r)) for r in range(world)]
    assert all(len(s) == 3 for s in shards)  # the last n % world are left out that epoch: none seen twice
    assert len(set().union(*shards)) == 9 and set().union(*shards) <= set(range(n))
    assert shards == [list(EpochSampler(n, seed=1, num_replicas=world, rank=r)) for r in range(world)]
    s = EpochSampler(n, seed=1, num_replicas=1, rank=0)
    s.set_epoch(2)
    assert sorted(s) == list(range(2 * n, 3 * n))
    assert isinstance(s, torch.utils.data.DistributedSampler)  # Lightning leaves it as it is


def test_val_split_is_stable_when_the_folder_grows():
    recs = [{"path": f"/v/{k}.mp4", "relpath": f"{k}.mp4"} for k in range(50)]
    _, val = split_records(recs, 0.2)
    _, val_grown = split_records(recs + [{"path": "/v/new.mp4", "relpath": "new.mp4"}], 0.2)
    assert len(val) == 10 and len({r["path"] for r in val} & {r["path"] for r in val_grown}) >= 9
    train, val = split_records(recs, 0.2, val_clips=7)  # a fixed count overrides the fraction
    assert len(val) == 7 and len(train) == 43 and val == split_records(recs, 0.0, val_clips=7)[1]
    with pytest.raises(UserError, match="val_clips"):
        split_records(recs, 0.1, val_clips=-1)
    assert len(split_records(recs, 0.1, val_clips=50)[1]) == 10  # more than half the folder: a fifth


@pytest.mark.slow
def test_training_on_a_corpus_with_bad_files_runs_to_the_end(corpus, tmp_path, monkeypatch):
    import lightning as L

    from multiview.methods.cmc import CMC

    monkeypatch.setenv("MULTIVIEW_HOME", str(tmp_path))
    root, recs = corpus
    dm = VideoFolderDataModule(str(root), frame_size=32, audio_seconds=0.5, clips_per_video=4,
                               no_audio="silence", val_fraction=0.3, batch_size=4, num_workers=1)
    model = CMC(encoders={"frame": {"width": 8}, "audio": {"width": 8}}, proj_dim=16)
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(model, dm)
    assert trainer.current_epoch == 2 and trainer.global_step == 2 * (len(dm.train_set) // 4)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert len(dm.train_set.records) + len(dm.val_set.records) == len(recs) == 7  # every usable file


def test_real_awkward_media_each_give_a_clip(tmp_path):
    if not ODD.is_dir():
        pytest.skip(f"real data missing: {ODD}")
    records = index.build_index(ODD, tmp_path / "idx", workers=2, quiet=True)[0]
    ds = ClipDataset(records, ClipSpec(frame_size=32, no_audio="silence"), positions="uniform")
    for i in range(len(ds)):
        s = ds[i]
        assert s["index"] == i and s["frame"].shape == (3, 32, 32) and s["audio"].shape == (SR,)
    assert ds.failed_files() == []
    name = {Path(r["path"]).name: k for k, r in enumerate(ds.records)}
    assert ds[name["bigbuckbunny-6ch.mp4"]]["audio"].abs().max() > 0.01


def test_cache_round_trips_and_is_invalidated_when_the_source_changes(tmp_path):
    import os

    from multiview.data.video import cache, decode

    video = write_video(tmp_path / "a.mp4", click_frame=5)
    store = cache.DecodeCache("test", root=tmp_path / "cache")
    first = cache.audio_track(str(video), SR, store)
    assert torch.equal(first, torch.from_numpy(decode.audio_track(str(video), SR)))
    assert torch.equal(cache.audio_track(str(video), SR, store), first) and store.hits == 1
    frames = cache.resized_frames(str(video), 32, store)
    assert frames.shape == (20, 32, 32, 3)
    assert np.allclose(frames.float().mean(dim=(1, 2, 3)).numpy(), [brightness(i) for i in range(20)], atol=4)
    write_video(video, click_frame=15)  # the source changes: the entry must be decoded again
    os.utime(video, ns=(1, 1))
    decode._readers.clear()
    again = cache.audio_track(str(video), SR, store)
    assert store.misses == 3 and _onset(again) == pytest.approx(1.5 * SR, abs=40)


def test_a_cached_dataset_reads_later_epochs_from_the_cache_until_the_source_changes(tmp_path, monkeypatch):
    from multiview.data.video import decode

    root = tmp_path / "videos"
    root.mkdir()
    video = write_video(root / "v.mp4", n_frames=30, click_frame=12)
    recs = index.build_index(root, tmp_path / "index.jsonl", workers=1, quiet=True)[0]
    common = dict(frame_size=32, sample_rate=SR, audio_seconds=0.4, clips_per_video=6, positions="uniform")
    plain, cached = ClipDataset(recs, **common), ClipDataset(recs, cache_dir=str(tmp_path / "cache"), **common)
    first = [cached[i] for i in range(len(cached))]
    for i, s in enumerate(first):
        ref = plain[i]
        assert (s["frame"] - ref["frame"]).abs().max() < 2 / 255
        assert torch.allclose(s["audio"], ref["audio"], atol=2e-3), i
    misses = cached.cache["frames"].misses + cached.cache["audio"].misses

    def refuse(*args, **kwargs):
        raise AssertionError("decoded again")

    with monkeypatch.context() as m:
        m.setattr(decode, "read_frames", refuse)
        m.setattr(decode, "_decode_span", refuse)
        second = [cached[len(cached) + i] for i in range(len(cached))]
    assert all(torch.equal(a["audio"], b["audio"]) for a, b in zip(first, second))
    assert cached.cache["frames"].misses + cached.cache["audio"].misses == misses
    assert cached.cache["frames"].hits >= len(cached) and cached.flags.sum() == 0

    write_video(video, n_frames=30, click_frame=3)
    os.utime(video, ns=(10**9, 10**9))
    clip = next(i for i in range(len(cached)) if cached.frame_indices(i)[1] < 0.5)
    s, ref = cached[clip], plain[clip]
    assert cached.cache["frames"].misses + cached.cache["audio"].misses == misses + 2
    assert _onset(ref["audio"]) is not None
    assert torch.allclose(s["audio"], ref["audio"], atol=2e-3)
