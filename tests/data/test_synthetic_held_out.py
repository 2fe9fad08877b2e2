"""The embedded corpus holds out as many clips as a study asks for (``--data.val_clips``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from multiview.data.splits import split_records
from multiview.data.video.synthetic import SyntheticAV, WorldConfig, _sample_clip, generate, load_manifest


def records(n: int, seed: int = 0) -> list[dict]:
    """The world's clips as the index lists them (file, label), without writing the media."""
    rng = np.random.default_rng(seed)
    return [{"path": f"/w/clip{i:05d}.mp4", "label": str(_sample_clip(rng).kind)} for i in range(n)]


def test_asking_for_256_held_out_clips_gets_256_and_keeps_the_training_clips():
    default, big = SyntheticAV(n_clips=320, val_clips=64), SyntheticAV(n_clips=320, val_clips=256)
    assert default.world.n_clips == 320 and big.world.n_clips == 512
    assert SyntheticAV(n_clips=12, val_clips=4).world.n_clips == 12  # small worlds as before
    train, val = split_records(records(big.world.n_clips), 0.0, 256)
    assert len(val) == 256 and len(train) == 256 == 320 - 64
    _, capped = split_records(records(320), 0.0, 256)  # the world left at 320 clips could not hold them out
    assert len(capped) < 256


def test_clip_i_is_the_same_in_a_bigger_world(tmp_path):
    small = WorldConfig(n_clips=3, duration=1.0, fps=4, size=16, sample_rate=8000)
    a, b = generate(small, tmp_path / "a"), generate(replace(small, n_clips=5), tmp_path / "b")
    assert load_manifest(b)["clips"][:3] == load_manifest(a)["clips"]
    for i in range(3):
        assert (a / f"clip{i:05d}.mp4").read_bytes() == (b / f"clip{i:05d}.mp4").read_bytes()
