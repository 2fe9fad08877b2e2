"""Published splits of MSR-VTT (1k-A), VGGSound and AudioSet, read from small folders laid out like the
real ones: real clips from ../shared/data/av linked under the datasets' own names, CSVs written here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from multiview.core.errors import UserError
from multiview.data.video.datamodule import VideoFolderDataModule
from multiview.data.video.layouts import find_layout, youtube_stems


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(src, dst)


def _setup(folder: Path, **kw) -> VideoFolderDataModule:
    dm = VideoFolderDataModule(index=str(folder), batch_size=1, num_workers=0, **kw)
    dm.setup("fit")
    return dm


def _names(dataset) -> list[str]:
    return sorted(Path(r["path"]).stem for r in dataset.records)


@pytest.mark.parametrize("with_train_list", [True, False])
def test_msrvtt_jsfusion_split_with_captions(shared_data, tmp_path, with_train_list):
    clips = sorted((shared_data / "av" / "msrvtt").glob("video*.mp4"))[:8]
    for c in clips:
        _link(c, tmp_path / "videos" / c.name)
    ids = [c.stem for c in clips]
    test_ids, train_ids = ids[:3], ids[3:]
    rows = ["key,vid_key,video_id,sentence"]
    rows += [f"ret{k},msr{v[5:]},{v},caption number {k} of {v}" for k, v in enumerate(test_ids + ["video9999"])]
    (tmp_path / "MSRVTT_JSFUSION_test.csv").write_text("\n".join(rows) + "\n")
    if with_train_list:
        (tmp_path / "MSRVTT_train.9k.csv").write_text("\n".join(["video_id", *train_ids, "video9998"]) + "\n")
    dm = _setup(tmp_path)
    assert _names(dm.val_set) == sorted(test_ids)
    assert _names(dm.train_set) == sorted(train_ids)
    captions = {Path(r["path"]).stem: r["caption"] for r in dm.val_set.records}
    assert captions[test_ids[1]] == f"caption number 1 of {test_ids[1]}"
    missing = 2 if with_train_list else 1 + 10000 - len(ids) - 1  # the rest of video0..video9999
    assert f"; {missing} listed videos missing from" in dm.layout_note
    assert dm.val_set[0]["caption"].startswith("caption number")


def test_vggsound_csv_namings_labels_and_windows(shared_data, tmp_path):
    src = sorted((shared_data / "av" / "vas_vggsound").glob("*_*000_*000.mp4"))[:6]
    rows, expected = [], {"train": [], "test": []}
    for k, c in enumerate(src):
        ytid, start_ms, _ = c.stem.rsplit("_", 2)
        start = int(start_ms) // 1000
        name = [f"{ytid}_{start:06d}.mp4", c.name, f"{ytid}_{start}_{start + 10}.mp4"][k % 3]
        _link(c, tmp_path / "video" / name)
        split = "test" if k % 2 else "train"
        rows.append(f'{ytid},{start},"label {k % 2}, with a comma",{split}')
        expected[split].append(Path(name).stem)
    rows.append("zzzzzzzzzzz,30,dog barking,test")  # listed, not downloaded
    (tmp_path / "vggsound.csv").write_text("\n".join(rows) + "\n")
    dm = _setup(tmp_path)
    assert _names(dm.train_set) == sorted(expected["train"])
    assert _names(dm.val_set) == sorted(expected["test"])
    assert dm.label_names == ["label 0, with a comma", "label 1, with a comma"]
    assert dm.layout_note.endswith("1 listed videos missing from " + str(tmp_path) + " (e.g. zzzzzzzzzzz)")
    assert all("start" not in r for r in dm.train_set.records)  # already cut to 10 s: the whole file


def test_audioset_segments_with_comments_quoted_labels_and_a_whole_video(shared_data, tmp_path):
    src = sorted((shared_data / "av" / "vas_vggsound").glob("*_*000_*000.mp4"))[:4]
    head = ("# Segments csv created Sun Mar  5 10:54:31 2017\n# num_ytids=3\n"
            "# YTID, start_seconds, end_seconds, positive_labels\n")
    lines = {"balanced_train_segments.csv": [], "eval_segments.csv": []}
    for k, c in enumerate(src):
        ytid, s_ms, e_ms = c.stem.rsplit("_", 2)
        s, e = int(s_ms) / 1000, int(e_ms) / 1000
        name = c.name if k % 2 else f"Y{ytid}_{s:.3f}_{e:.3f}.mp4"
        _link(c, tmp_path / "audio" / name)
        lines["eval_segments.csv" if k < 2 else "balanced_train_segments.csv"].append(
            f'{ytid}, {s:.3f}, {e:.3f}, "/m/0{k},/m/09x0r"')
    whole = shared_data / "av" / "msrvtt" / "video236.mp4"  # 30 s: a whole video, its 10-s window at 10-20 s
    _link(whole, tmp_path / "audio" / "wholeVideo1.mp4")
    lines["balanced_train_segments.csv"].append('wholeVideo1, 10.000, 20.000, "/m/09x0r"')
    lines["eval_segments.csv"].append('notDownload, 0.000, 10.000, "/m/09x0r"')
    for name, rows in lines.items():
        (tmp_path / name).write_text(head + "\n".join(rows) + "\n")
    (tmp_path / "class_labels_indices.csv").write_text('index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/m/00,Dog\n')
    dm = _setup(tmp_path, frames=2, fps=2.0)
    assert len(dm.train_set.records) == 3 and len(dm.val_set.records) == 2
    assert "; 1 listed videos missing" in dm.layout_note
    assert {r["label"] for r in dm.val_set.records} == {"Dog", "/m/01"}
    assert all(r["labels"][-1] == "Speech" for r in dm.train_set.records)
    record = next(r for r in dm.train_set.records if "wholeVideo1" in r["path"])
    assert (record["start"], record["end"]) == (10.0, 20.0)
    k = dm.train_set.records.index(record)
    fps = float(record["fps"])
    for epoch in range(3):
        for i in range(dm.train_set.clips_per_video):
            idx, centre = dm.train_set.frame_indices(epoch * len(dm.train_set) + k * dm.train_set.clips_per_video + i)
            assert 10 * fps <= idx.min() and idx.max() < 20 * fps and 10.5 <= centre <= 19.5
    assert np.isfinite(dm.train_set[k * dm.train_set.clips_per_video]["audio"].numpy()).all()


def test_namings_and_one_line_errors(tmp_path):
    assert {"abc_000030", "abc_30_40", "abc_30000_40000", "Yabc_30.000_40.000", "abc"} <= set(
        youtube_stems("abc", 30.0, 40.0))
    assert find_layout(tmp_path) is None
    with pytest.raises(UserError, match=r"^data.layout: msrvtt: none of MSRVTT_JSFUSION_test.csv in "):
        find_layout(tmp_path, "msrvtt")
    with pytest.raises(UserError, match=r"data.layout: expected one of auto, none"):
        find_layout(tmp_path, "kinetics")
    (tmp_path / "vggsound.csv").write_text("abc,30,dog,train\nabc,thirty,dog,test\n")
    with pytest.raises(UserError, match=r"vggsound.csv: row 2 is 'abc,thirty,dog,test'; expected YouTube id"):
        find_layout(tmp_path)
    assert find_layout(tmp_path, "none") is None
