"""``multiview data index``: every usable file listed, every bad one reported with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from multiview.cli.data.index import main as index_command
from multiview.core.errors import UserError
from multiview.data.video import index
from tests.av_media import crashing_probe, hanging_probe, make_corpus, write_video

ODD = Path(__file__).resolve().parents[3] / "shared" / "data" / "av" / "odd"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return root, make_corpus(root)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_index_lists_usable_and_reports_bad_files(corpus, tmp_path, capsys):
    root, expected = corpus
    out = tmp_path / "idx.jsonl"
    assert index_command([str(root), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    usable = {r["relpath"]: r for r in _lines(out)}
    rejected = {os.path.relpath(r["path"], root): r["reason"] for r in _lines(tmp_path / "idx.rejected.jsonl")}
    assert set(usable) == {k for k, v in expected.items() if v == "usable"}
    assert set(rejected) == {k for k, v in expected.items() if v == "rejected"}
    assert rejected["zero.mp4"] == "empty file (0 bytes)"
    assert "Invalid data" in rejected["text.mp4"] and "Invalid data" in rejected["truncated.mp4"]
    webm = usable["no_duration.webm"]  # no duration in the header: frames counted, read through PyAV
    assert (webm["frames"], webm["fps"], webm["duration"]) == (20, 10.0, 2.0) and not webm["has_audio"]
    good = usable["good.mp4"]
    assert (good["frames"], good["fps"], good["duration"]) == (20, 10.0, 2.0)
    assert (good["width"], good["height"], good["sample_rate"], good["channels"]) == (32, 24, 16000, 1)
    assert good["audio_ok"] and good["label"] is None and good["caption"] is None
    assert usable["six_channels.mp4"]["channels"] == 6 and usable["six_channels.mp4"]["sample_rate"] == 48000
    assert usable["one_pixel.mp4"]["width"] == 1 and usable["one_pixel.mp4"]["frames"] == 20
    assert not usable["no_audio.mp4"]["has_audio"] and not usable["no_audio.mp4"]["audio_ok"]
    bad = usable["bad_audio.mp4"]
    assert bad["has_audio"] and not bad["audio_ok"] and bad["audio_error"]
    printed = capsys.readouterr().out
    assert "10 video files, 7 usable, 3 rejected" in printed and "rejected zero.mp4: empty file" in printed


def test_reindex_probes_only_new_or_changed_files(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    for name in ("a.mp4", "b.mp4"):
        write_video(root / name, audio=False)
    out = tmp_path / "idx"
    _, _, stats = index.build_index(root, out, workers=1, quiet=True)
    assert (stats["probed"], stats["reused"], stats["usable"]) == (2, 0, 2)
    _, _, stats = index.build_index(root, out, workers=1, quiet=True)
    assert (stats["probed"], stats["reused"]) == (0, 2)
    write_video(root / "c.mp4", audio=False)
    write_video(root / "a.mp4", n_frames=30, audio=False)  # changed: new size and mtime
    (root / "b.mp4").unlink()
    usable, _, stats = index.build_index(root, out, workers=1, quiet=True)
    assert (stats["probed"], stats["reused"]) == (2, 0)
    assert {Path(r["path"]).name: r["frames"] for r in usable} == {"a.mp4": 30, "c.mp4": 20}
    assert index.load_index(out) == usable


def test_labels_and_captions_come_from_tsv(tmp_path):
    root = tmp_path / "videos"
    (root / "clips").mkdir(parents=True)
    for name in ("x.mp4", "y.mp4", "z.mp4"):
        write_video(root / "clips" / name, audio=False, n_frames=5)
    (root / "clips" / "labels.tsv").write_text("file\tlabel\tsource\nx.mp4\tdog\tVAS\ny.mp4\tdrum\tVAS\n")
    (root / "captions.tsv").write_text("file\tcaption\nclips/y.mp4\ta man plays a drum\n")
    (root / "clips" / "bad.tsv").write_text("name\tlabel\nx.mp4\tcat\n")
    usable, _, stats = index.build_index(root, tmp_path / "idx", workers=1, quiet=True)
    got = {Path(r["path"]).name: (r["label"], r["caption"]) for r in usable}
    assert got == {"x.mp4": ("dog", None), "y.mp4": ("drum", "a man plays a drum"), "z.mp4": (None, None)}
    assert any("bad.tsv: no file column" in n for n in stats["notes"])


def test_a_crashing_decoder_rejects_one_file_only(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    for name in ("a.mp4", "crash.mp4", "d.mp4", "e.mp4"):
        write_video(root / name, audio=False, n_frames=5)
    usable, rejected, _ = index.build_index(root, tmp_path / "idx", workers=2, probe=crashing_probe, quiet=True)
    assert sorted(Path(r["path"]).name for r in usable) == ["a.mp4", "d.mp4", "e.mp4"]
    assert [(Path(r["path"]).name, r["reason"]) for r in rejected] == [
        ("crash.mp4", "the decoder crashed while probing this file")]


def test_bad_command_lines_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        index_command([str(tmp_path / "missing"), "--out", str(tmp_path / "i")])
    with pytest.raises(UserError, match="no video files found"):
        index_command([str(tmp_path), "--out", str(tmp_path / "i")])
    (tmp_path / "broken").write_text("{not json\n")
    with pytest.raises(UserError, match="line 1 is not JSON"):
        index.load_index(tmp_path / "broken")


def test_real_awkward_media(tmp_path):
    if not ODD.is_dir():
        pytest.skip(f"real data missing: {ODD}")
    usable, rejected, stats = index.build_index(ODD, tmp_path / "idx", workers=2, quiet=True)
    by_name = {Path(r["path"]).name: r for r in usable}
    assert stats["found"] == 13
    assert rejected == []
    assert by_name["no_duration.webm"]["frames"] > 0 and by_name["no_duration.webm"]["duration"] > 1
    assert by_name["bigbuckbunny-6ch.mp4"]["channels"] == 6
    assert by_name["-video-with-dash-.mp4"]["width"] == 1 and by_name["-video-with-dash-.mp4"]["frames"] == 5
    assert not by_name["bikes.mp4"]["has_audio"]
    assert by_name["video_with_failing_audio.mp4"]["frames"] == 280



def test_a_hanging_decoder_times_out_and_rejects_one_file_only(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    for name in ("a.mp4", "hang.mp4", "d.mp4"):
        write_video(root / name, audio=False, n_frames=5)
    usable, rejected, _ = index.build_index(root, tmp_path / "idx", workers=2, probe=hanging_probe,
                                            quiet=True, timeout=3)
    assert sorted(Path(r["path"]).name for r in usable) == ["a.mp4", "d.mp4"]
    assert [Path(r["path"]).name for r in rejected] == ["hang.mp4"]
    assert "longer than 3 s" in rejected[0]["reason"]
