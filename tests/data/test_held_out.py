"""Held-out sets: stratified by label, checked before training, ``val_clips`` capped on small folders.

Real folders from the shared GRID clips (``av/grid``, 11 talking-face videos with sound): the
11-video folder itself, and a 57-video folder of copies (the indexer keeps one entry per inode,
so copies, not links).
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multiview.core.errors import UserError
from multiview.data.splits import check_held_out, interval_95, split_records
from multiview.data.video.datamodule import VideoFolderDataModule
from multiview.eval.reports.probe import check_scorable

REPO = Path(__file__).resolve().parents[2]


def grid_folder(shared_data: Path, root: Path, n: int, labels: list[str] | None = None) -> Path:
    """``n`` copies of the GRID clips named ``clip-000.mpg``... (with ``labels.tsv`` if given)."""
    clips = sorted((shared_data / "av" / "grid").glob("*.mpg"))
    root.mkdir(parents=True)
    for k in range(n):
        shutil.copyfile(clips[k % len(clips)], root / f"clip-{k:03d}.mpg")
    if labels:
        rows = "".join(f"clip-{k:03d}.mpg\t{y}\n" for k, y in enumerate(labels))
        (root / "labels.tsv").write_text("file\tlabel\n" + rows)
    return root


def held_out(folder: Path, capsys, **kwargs) -> tuple[VideoFolderDataModule, str]:
    dm = VideoFolderDataModule(str(folder), batch_size=2, num_workers=0, **kwargs)
    dm.setup("fit")
    return dm, capsys.readouterr().err


def records(labels: list) -> list[dict]:
    return [{"path": f"/v/{k:03d}.mp4", "relpath": f"{k:03d}.mp4", "label": y} for k, y in enumerate(labels)]


def test_last_by_path_class_is_held_out_and_trained_on():
    labels = ["speech"] * 8 + ["music"] * 3  # the last videos by path are all one class
    for kwargs in ({"val_clips": 3}, {"val_fraction": 0.25}):
        train, val = split_records(records(labels), kwargs.pop("val_fraction", 0.0), **kwargs)
        assert {r["label"] for r in val} == {r["label"] for r in train} == {"speech", "music"}
        assert len(val) == 3
    train, val = split_records(records([None] * 11), 0.0, val_clips=3)  # unlabelled: the last 3 by path
    assert [r["relpath"] for r in val] == ["008.mp4", "009.mp4", "010.mp4"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from("abcdefg"), min_size=2, max_size=60), st.integers(0, 60), st.booleans())
def test_every_class_of_two_or_more_is_on_both_sides(labels, n_val, by_count):
    n = len(labels)
    if by_count and n_val > 0 and n < 3:  # no split holds out 2 and trains on 1
        with pytest.raises(UserError, match="too few"):
            split_records(records(labels), 0.0, n_val)
        return
    train, val = split_records(records(labels), 0.0, n_val) if by_count else split_records(records(labels), 0.3)
    assert sorted(r["path"] for r in train + val) == [r["path"] for r in records(labels)]
    counts = Counter(labels)
    eligible = [y for y, c in counts.items() if c >= 2]
    most = min(n - 1, max(n // 2, 2))
    wanted = (n_val if n_val <= most else min(most, max(2, round(0.2 * n)))) if by_count else max(1, round(0.3 * n))
    for y in eligible:  # each class of two or more keeps one in training ...
        assert y in {r["label"] for r in train}, y
    if 0 < len(eligible) <= wanted:  # ... and is tested wherever the held-out count allows
        assert set(eligible) <= {r["label"] for r in val}
    if wanted <= n - len(eligible):  # never more held out than asked for
        assert len(val) == wanted


def test_probe_that_cannot_score_says_so():
    with pytest.raises(UserError, match="cannot score: the 3 held-out samples are all of classes that training"):
        check_scorable(np.array([0, 0, 0]), np.array([1, 1, 1]), ["speech", "music"])
    check_scorable(np.array([0, 1, 0]), np.array([1, 0]), ["speech", "music"])  # every class seen: silent


def test_interval_is_the_binomial_one():
    rng = np.random.default_rng(0)
    rates = rng.binomial(6, 0.5, size=200_000) / 6  # R@1 of 6 queries, each right half the time
    assert interval_95(6) == pytest.approx(0.40, abs=0.005)
    assert np.mean(np.abs(rates - 0.5) <= interval_95(6)) >= 0.95


def test_eleven_videos_refused_before_training_and_no_run_folder_left(shared_data, tmp_path, monkeypatch, capsys):
    from multiview.cli.main import main

    monkeypatch.setenv("MULTIVIEW_HOME", str(tmp_path))
    recipe = str(REPO / "recipes" / "cmc_av_folder.yaml")
    folder = shared_data / "av" / "grid"
    for index, message in ((folder, "1 held-out clips (of 11 videos): the end-of-fit figures need at least 2"),
                           (tmp_path / "missing", "missing")):
        code = main(["fit", "--config", recipe, "--data.index", str(index), "--data.batch_size", "2",
                     "--data.num_workers", "0"])
        err = capsys.readouterr().err
        assert code == 2 and "multiview: error: " in err and message in err, err
        assert not (tmp_path / "runs" / "cmc_av_folder").exists()  # the failed start left no empty run folder
    dm, err = held_out(folder, capsys, val_clips=64)  # the README's own-folder command: capped, with a note
    assert len(dm.val_set) == 2 and "data.val_clips=64: the folder has 11 usable videos; holding out 2" in err
    assert "2 held-out clips (of 11 videos): R@1 and accuracy will have a 95% interval of about ±0.69" in err


@pytest.mark.slow
def test_fifty_seven_videos_warn_with_the_interval(shared_data, tmp_path, capsys):
    folder = grid_folder(shared_data, tmp_path / "57", 57)
    dm, err = held_out(folder, capsys)
    assert len(dm.val_set) == 6 and "6 held-out clips (of 57 videos): R@1 and accuracy will have a 95% " \
                                      "interval of about ±0.40" in err
    dm, err = held_out(folder, capsys, val_clips=64)
    assert len(dm.val_set) == 11 and "holding out 11 (a fifth, at least 2) instead" in err and "about ±0.30" in err


@pytest.mark.slow
def test_ambient_probe_scores_a_labelled_folder_whose_last_clips_are_one_class(shared_data, tmp_path, capsys):
    """Before: the last 3 clips by path (all "lay") were held out, a class training never saw, and
    the probe scored 0.0 by construction. Now both classes are held out and trained on."""
    import json

    import yaml

    from multiview.cli.main import main

    folder = grid_folder(shared_data, tmp_path / "labelled", 12, ["bin"] * 9 + ["lay"] * 3)
    recipe = tmp_path / "ambient.yaml"
    recipe.write_text(yaml.safe_dump({
        "seed_everything": 0,
        "trainer": {"max_steps": 2, "accelerator": "cpu", "logger": False, "num_sanity_val_steps": 0,
                    "limit_val_batches": 0, "enable_progress_bar": False, "enable_model_summary": False,
                    "callbacks": [{"class_path": "multiview.eval.reports.ProbeReport",
                                   "init_args": {"encoder": "frame", "kinds": ["probe"]}}]},
        "model": {"class_path": "multiview.methods.ambient_sound.AmbientSound",
                  "init_args": {"encoder": {"name": "small_resnet", "width": 4}, "n_clusters": 3,
                                "n_components": 4}},
        "data": {"class_path": "multiview.data.video.datamodule.VideoFolderDataModule",
                 "init_args": {"index": str(folder), "val_clips": 3, "frame_size": 32, "clips_per_video": 1,
                               "batch_size": 4, "num_workers": 0}}}))
    run = tmp_path / "run"
    assert main(["fit", "--config", str(recipe), "--trainer.default_root_dir", str(run)]) == 0
    err = capsys.readouterr().err
    metrics = json.loads((run / "metrics.json").read_text())
    assert "not_computed" not in metrics and "classes training never shows" not in err, err
    assert metrics["headline"] == "probe/top1" and metrics["probe/n_test"] == 12  # 3 held-out clips x 4 moments
    dm = VideoFolderDataModule(str(folder), val_clips=3, batch_size=4, num_workers=0)
    dm.setup("fit")
    assert sorted(dm.val_set.labels) == [0, 0, 1] and set(dm.train_set.labels) == {0, 1}


@pytest.mark.parametrize("n,val_clips", [(3, 2), (3, 5), (4, 3), (5, 2)])
def test_small_folders_take_an_explicit_request_that_can_score(n, val_clips, capsys):
    records = [{"path": f"/v/clip{i}.mp4", "relpath": f"clip{i}.mp4"} for i in range(n)]
    train, val = split_records(records, 0.1, val_clips=val_clips)
    err = capsys.readouterr().err
    assert len(val) >= 2 and len(train) >= 1 and len(val) + len(train) == n
    if val_clips <= max(n // 2, 2) and val_clips < n:
        assert len(val) == val_clips and err == ""  # honoured as asked
    else:
        assert f"holding out {len(val)}" in err and "need at least" not in err


@pytest.mark.parametrize("n", [1, 2])
def test_a_folder_too_small_for_any_split_is_refused_once(n):
    records = [{"path": f"/v/clip{i}.mp4", "relpath": f"clip{i}.mp4"} for i in range(n)]
    with pytest.raises(UserError, match=f"^{n} videos are too few: at least 3 are needed"):
        split_records(records, 0.1, val_clips=2)
    with pytest.raises(UserError, match=f"^{n} videos are too few: at least 3 are needed"):
        check_held_out(n - 1, videos=n)  # the fraction's split of the same folder says the same
