import hashlib

import av
import numpy as np
import torch

from multiview.data.loader import EpochSampler
from multiview.data.video import decode
from multiview.data.video.clips import ClipDataset
from multiview.data.video.media_info import probe_file
from multiview.data.video.synthetic import KINDS, SyntheticAV, WorldConfig, generate, load_manifest


def decoded_digest(folder) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.mp4")):
        h.update(decode.read_frames(path, np.arange(0, 2, 0.25), None).numpy().tobytes())
        h.update(decode.read_audio(path, 0.0, 2.0, 16000).numpy().tobytes())
    return h.hexdigest()


def test_same_seed_same_decoded_bytes(tmp_path):
    cfg = WorldConfig(n_clips=6, seed=3, duration=2.0)
    a, b = generate(cfg, tmp_path / "a"), generate(cfg, tmp_path / "b")
    other = generate(WorldConfig(n_clips=6, seed=4, duration=2.0), tmp_path / "c")
    assert [p.read_bytes() for p in sorted(a.glob("*.mp4"))] == [p.read_bytes() for p in sorted(b.glob("*.mp4"))]
    assert decoded_digest(a) == decoded_digest(b)
    assert decoded_digest(a) != decoded_digest(other)
    assert load_manifest(a) == load_manifest(b)


def test_clips_decode_with_sound_and_captions(tmp_path):
    folder = generate(WorldConfig(n_clips=4, seed=0, duration=2.0), tmp_path)
    manifest = load_manifest(folder)
    for clip in manifest["clips"]:
        info = decode.probe(folder / clip["file"])
        assert info.has_audio and info.sample_rate == 16000 and info.n_frames == 16
        audio = decode.read_audio(folder / clip["file"], 0.0, 2.0, 16000)
        assert audio.abs().max() > 0.05  # the object's sound is there
        shape, colour = KINDS[clip["kind"]][:2]
        words = clip["caption"].split()
        assert words[0] == "a" and words[2:4] == [colour, shape] and "moves" in words
    assert (folder / "labels.tsv").read_text().count("\n") == 5


def test_sound_follows_the_object(tmp_path):
    """Pitch rises as the object climbs: the spectral centroid tracks the height on screen."""
    cfg = WorldConfig(n_clips=12, seed=1, duration=2.0)
    folder = generate(cfg, tmp_path)
    checked = 0
    for clip in load_manifest(folder)["clips"]:
        if abs(clip["vy"]) < 0.2:
            continue
        path = folder / clip["file"]
        wave = decode.read_audio(path, 0.0, 2.0, 16000)
        frames = decode.read_frames(path, [0.25, 1.75], None).float()
        kind_rgb = torch.tensor(KINDS[clip["kind"]][2]).float()
        heights = []
        for f in frames:
            mask = (f - kind_rgb).abs().sum(-1) < 40
            heights.append(mask.nonzero()[:, 0].float().mean().item())
        cents = []
        for t in (0.25, 1.75):
            seg = wave[int((t - 0.1) * 16000): int((t + 0.1) * 16000)]
            spec = torch.fft.rfft(seg * torch.hann_window(len(seg))).abs()
            freqs = torch.fft.rfftfreq(len(seg), 1 / 16000)
            band = (freqs > 100) & (freqs < 1200)  # the fundamental's range
            cents.append(freqs[band][spec[band].argmax()].item())
        if abs(heights[0] - heights[1]) > 8:
            assert (heights[1] < heights[0]) == (cents[1] > cents[0]), (clip, heights, cents)
            checked += 1
    assert checked >= 2


def click_video(path, fps=8, sr=16000, seconds=3.0, click_frame=12):
    """A black video with one white frame and a click at that frame's start time."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width = v.height = 32
        v.pix_fmt = "yuv420p"
        a = c.add_stream("aac", rate=sr)
        a.layout = "mono"
        for i in range(int(seconds * fps)):
            img = np.full((32, 32, 3), 255 if i == click_frame else 0, np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        wave = np.zeros(int(seconds * sr), np.float32)
        start = int(click_frame / fps * sr)
        wave[start:start + 40] = 0.9
        for s in range(0, len(wave), 1024):
            fr = av.AudioFrame.from_ndarray(wave[None, s:s + 1024], format="flt", layout="mono")
            fr.sample_rate, fr.pts = sr, s
            for p in a.encode(fr):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def test_dataset_yields_aligned_frame_and_sound(tmp_path):
    fps, sr, k = 8, 16000, 12
    path = tmp_path / "click.mp4"
    click_video(path, fps, sr, click_frame=k)
    record = {**probe_file(str(path)), "label": "click", "caption": "click"}
    ds = ClipDataset([record], frame_size=32, sample_rate=sr, audio_seconds=1.0, clips_per_video=24,
                     positions="uniform")
    hits = 0
    for i in range(len(ds)):
        item = ds[i]
        if int(item["time"] * fps) != k:
            continue
        hits += 1
        assert item["frame"].mean() > 0.9  # the white frame
        onset = int((item["audio"].abs() > 0.3).nonzero()[0])
        expected = int(sr * (0.5 - 0.5 / fps))  # the click sits half a frame before the window's centre
        assert abs(onset - expected) <= 32, (onset, expected)
    assert hits >= 1
    dark = ds[0]
    assert dark["frame"].mean() < 0.1 and dark["audio"].abs().max() < 0.3


def test_epoch_sampler_is_seeded_and_carries_the_epoch():
    s = EpochSampler(10, seed=1)
    first = list(s)
    assert sorted(first) == list(range(10)) and list(EpochSampler(10, seed=1)) == first
    s.set_epoch(2)
    second = list(s)
    assert sorted(second) == list(range(20, 30)) and [x - 20 for x in second] != first


def test_datamodule_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIVIEW_HOME", str(tmp_path))
    dm = SyntheticAV(n_clips=12, val_clips=4, duration=2.0, clips_per_video=2, batch_size=4, num_workers=0)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"frame", "audio", "label", "caption", "index", "time"}
    assert batch["frame"].shape == (4, 3, 64, 64) and batch["audio"].shape == (4, 16000)
    assert 0 <= batch["frame"].min() and batch["frame"].max() <= 1
    assert len(batch["caption"]) == 4 and batch["label"].dtype == torch.int64
    assert len(dm.val_set) == 4 and len(dm.train_set) == 16
    assert type(dm.train_dataloader().sampler) is EpochSampler  # the one sampler, as images and audio use
    # labels.tsv and captions.tsv of the generated folder come through the index
    manifest = {c["file"]: c for c in load_manifest(generate(dm.world))["clips"]}
    for ds in (dm.train_set, dm.val_set):
        for r, label in zip(ds.records, ds.labels):
            clip = manifest[r["relpath"]]
            assert r["caption"] == clip["caption"] and dm.label_names[label] == str(clip["kind"])


def test_epoch_sampler_resumes_mid_epoch_once():
    s = EpochSampler(10, seed=1)
    s.set_epoch(3)
    full = list(s)
    s.resume_at = (3, 4)
    assert list(s) == full[4:] and len(s) == 10
    assert list(s) == full  # only the first pass of that epoch is shortened


def test_run_splits_reads_the_runs_own_labelled_clips(tmp_path, monkeypatch):
    """``multiview eval ... --data run``: training clips -> train/val, held-out clips -> test."""
    from argparse import Namespace

    import yaml

    from multiview.eval.core.datasets import run_splits

    monkeypatch.setenv("MULTIVIEW_HOME", str(tmp_path))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    data = {"class_path": "multiview.data.video.synthetic.SyntheticAV",
            "init_args": {"n_clips": 12, "val_clips": 4, "duration": 2.0, "batch_size": 4, "num_workers": 0}}
    (run / "config.yaml").write_text(yaml.safe_dump({"model": {"class_path": "x.Y"}, "data": data}))
    train, val, test, names = run_splits(str(run), "frame", Namespace(val_fraction=0.25, seed=0, train_limit=5000),
                                         test_limit=16)
    assert len(train) + len(val) == 2 * 8 and 0 < len(test) <= 4 * 4  # 2 moments a training clip, 4 a held-out one
    assert names == sorted(names) and {int(n) for n in names} <= set(range(len(KINDS)))
    for ds in (train, val, test):
        item = ds[0]
        assert item["input"].shape == (3, 64, 64) and 0 <= item["label"] < len(names)
