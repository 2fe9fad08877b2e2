"""Readers of user files against hostile and broken input: sizes a header cannot back, tags
that are not UTF-8, corrupt files in a folder, test splits that lack a class, malformed
index records and TSVs, broken gzip corpora. Each fault ends in one line or a skipped file."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from PIL import Image

from multiview.core.errors import UserError
from multiview.data.audio.audio_folder import AudioFolderDataset
from multiview.data.image.images import ImageFolderData
from multiview.data.text.word_vectors import load_word2vec, save_word2vec
from multiview.data.video import cache, decode, index
from multiview.data.video.annotations import read_tsv
from multiview.data.video.media_info import probe_file
from tests.av_media import write_video
from tests.hostile_media import write_mkv, write_ogg_tagged, write_wav_tagged

# --- sizes declared in headers ------------------------------------------------------------------

@pytest.mark.parametrize("name,head", [("big.bin", b"3000000000 300\n"), ("big.txt", b"3000000000 300\n")])
def test_word_vector_header_larger_than_the_file_is_refused(tmp_path, name, head):
    path = tmp_path / name
    path.write_bytes(head + b"a \x00\x00\x00\x00\n")  # 22 bytes declaring 3e9 words
    with pytest.raises(UserError, match=r"declares 3000000000 words of 300 dimensions, more than its 22 bytes"):
        load_word2vec(path)


def test_word_vectors_that_fit_their_header_still_load(tmp_path):
    for name in ("v.bin", "v.txt"):
        save_word2vec(tmp_path / name, ["a", "b"], np.eye(2, 3))
        words, vectors = load_word2vec(tmp_path / name)
        assert words == ["a", "b"] and vectors.shape == (2, 3)


def test_audio_timestamp_past_the_file_size_is_refused(tmp_path):
    path = write_mkv(tmp_path / "jump.mkv", audio_jump_s=1e7)  # 17 kB claiming 10^7 s of audio
    with pytest.raises(decode.DecodeError, match=r"jump.mkv: audio timestamp 10000000 s lies beyond"):
        decode.audio_track(path, 8000)
    assert decode.read_audio(path, 0.0, 0.5, 8000).shape == (4000,)  # a window is still fine


def test_container_frame_count_past_the_file_size_is_refused(tmp_path):
    path = write_mkv(tmp_path / "long.mkv", video_jump_s=1e8)
    with pytest.raises(decode.DecodeError, match=r"long.mkv: the container declares \d+ frames, more than"):
        decode.video_reader(path)
    with pytest.raises(decode.DecodeError, match="declares"):
        cache.resized_frames(str(path), 8, cache.DecodeCache("t", root=tmp_path / "c"))
    assert probe_file(str(path))["reason"].startswith("decoder cannot read its frames")


# --- tags that are not UTF-8; corrupt files in folders -------------------------------------------

def test_media_with_non_utf8_tags_opens(tmp_path):
    ogg, wav = write_ogg_tagged(tmp_path / "t.ogg"), write_wav_tagged(tmp_path / "t.wav")
    assert decode.audio_track(ogg, 16000).shape[0] == pytest.approx(16000, abs=400)
    assert decode.audio_track(wav, 8000).shape == (8000,)
    video = write_mkv(tmp_path / "tagged.mkv", tag="Привет".encode("cp1251"))
    record = probe_file(str(video))
    assert "reason" not in record and record["frames"] == 10 and record["audio_ok"]
    assert decode.read_frames(video, [0.05], 8).shape == (1, 8, 8, 3)


def _audio_folder(root):
    for label in ("yes", "no"):
        (root / label).mkdir(parents=True)
        for i in range(6):
            (write_ogg_tagged if i % 2 else write_wav_tagged)(root / label / f"{label}{i}.{'ogg' if i % 2 else 'wav'}")
    good = (root / "yes" / "yes1.ogg").read_bytes()
    (root / "yes" / "truncated.ogg").write_bytes(good[: len(good) // 3])
    (root / "no" / "text.wav").write_text("not audio\n")
    (root / "no" / "folder.ogg").mkdir()
    return root


def test_audio_folder_skips_and_counts_unreadable_files(tmp_path, capsys):
    root = _audio_folder(tmp_path / "spoken")
    train = AudioFolderDataset(root, "train", sample_rate=8000)
    printed = capsys.readouterr().err
    assert train.skipped == 3 and "skipped 3 of" in printed and "unreadable files" in printed
    assert len(train) == 12 - 2 and train.classes == ["no", "yes"]
    assert float(train.waves.abs().amax(1).min()) == pytest.approx(0.5)  # every kept clip decoded
    (tmp_path / "bad" / "x").mkdir(parents=True)
    (tmp_path / "bad" / "x" / "a.ogg").write_text("nope")
    with pytest.raises(UserError, match="none of its 1 files is readable"):
        AudioFolderDataset(tmp_path / "bad", "train")


def test_eval_audio_folder_with_non_utf8_tags(tmp_path):
    from argparse import Namespace

    from multiview.eval.core.datasets import eval_splits

    root = _audio_folder(tmp_path / "spoken")
    args = Namespace(data=str(root), train_limit=100, test_limit=100, seed=0, val_fraction=0.2, size=32)
    train, val, test, classes = eval_splits(args, "audio")
    assert classes == ["no", "yes"] and len(train) + len(val) + len(test) == 12
    assert sorted({test[i]["label"] for i in range(len(test))}) == [0, 1]


def _png(path, value, size=8):
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


def test_image_folder_skips_unreadable_files_and_maps_test_classes_by_name(tmp_path, monkeypatch, capsys):
    root = tmp_path / "pics"
    for split, classes in (("train", ("ant", "bee", "cat")), ("test", ("ant", "cat"))):
        for c, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(3):
                _png(root / split / name / f"{i}.png", 40 * c + i)
    data = (root / "train" / "ant" / "0.png").read_bytes()
    (root / "train" / "ant" / "torn.png").write_bytes(data[:20])
    (root / "train" / "bee" / "text.jpg").write_text("not an image")
    (root / "train" / "bee" / "folder.jpg").mkdir()
    _png(root / "train" / "cat" / "bomb.png", 0, size=64)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64x64 > 2 x 1000: a decompression bomb
    dm = ImageFolderData(str(root), size=8)
    dm.setup()
    assert "skipped 4 of 13 unreadable files" in capsys.readouterr().err
    assert dm.classes == ["ant", "bee", "cat"] and len(dm.train_set) == 9
    test_labels = [int(dm.test_set[i]["label"]) for i in range(len(dm.test_set))]
    assert test_labels == [0, 0, 0, 2, 2, 2]  # "cat" keeps id 2 although test/ has no "bee"


# --- symbolic links and files that vanish -------------------------------------------------------

def test_symlink_loops_give_each_video_once(tmp_path):
    root = tmp_path / "videos"
    (root / "sub").mkdir(parents=True)
    write_video(root / "a.mp4", audio=False, n_frames=3)
    write_video(root / "sub" / "b.mp4", audio=False, n_frames=3)
    (root / "sub" / "up").symlink_to("..")
    (root / "sub" / "here").symlink_to(".")
    (root / "alias.mp4").symlink_to("a.mp4")
    (root / "gone.mp4").symlink_to("nowhere.mp4")
    found = []
    worker = threading.Thread(target=lambda: found.extend(index.discover(root)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "discover never finished"
    assert sorted(p.rsplit("/", 1)[-1] for p in found) == ["a.mp4", "b.mp4"]
    usable, rejected, _ = index.build_index(root, tmp_path / "idx.jsonl", workers=1, quiet=True)
    assert sorted(r["relpath"] for r in usable) == ["a.mp4", "sub/b.mp4"]
    assert [(r["path"].rsplit("/", 1)[-1], r["reason"]) for r in rejected] == [
        ("gone.mp4", "cannot open (a dangling symbolic link)")]


def test_files_deleted_while_indexing_are_rejected(tmp_path):
    from tests.hostile_media import deleting_probe

    root = tmp_path / "videos"
    root.mkdir()
    for name in ("a.mp4", "victim.mp4"):
        write_video(root / name, audio=False, n_frames=3)
    usable, rejected, _ = index.build_index(root, tmp_path / "idx.jsonl", workers=1, probe=deleting_probe, quiet=True)
    assert [r["relpath"] for r in usable] == ["a.mp4"]
    assert [r["path"].rsplit("/", 1)[-1] for r in rejected] == ["victim.mp4"]
    assert "No such file" in rejected[0]["reason"]


# --- malformed index records, TSVs, gzip corpora ------------------------------------------------

@pytest.mark.parametrize("line,problem", [
    ('{"path": 3, "duration": 1.0}', "'path' is '3'; expected a string"),
    ('{"path": "a.mp4", "duration": "long"}', "'duration' is 'long'; expected a non-negative number"),
    ('{"path": "a.mp4", "duration": 1, "fps": null, "frames": -4}', "'frames' is '-4'"),
    ('{"path": "a.mp4", "duration": 1, "audio_ok": "yes"}', "'audio_ok' is 'yes'; expected true or false"),
    ('{"path": "a.mp4", "duration": NaN}', "'duration' is 'nan'"),
    ('{"path": "a.mp4", "duration": 1, "label": 7}', "'label' is '7'; expected a string or null"),
    ('["path", "duration"]', "line 1 is not a JSON object"),
    ("{}", "record without 'path'"),
])
def test_malformed_index_records_are_one_line_errors(tmp_path, line, problem):
    path = tmp_path / "idx.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(UserError, match=f"idx.jsonl.*{__import__('re').escape(problem)}"):
        index.load_index(path)


def test_index_that_is_not_utf8_is_a_one_line_error(tmp_path):
    path = tmp_path / "idx.jsonl"
    path.write_bytes(json.dumps({"path": "x", "duration": 1}).encode() + b"\n\xff\xfe\n")
    with pytest.raises(UserError, match="idx.jsonl: not UTF-8 text"):
        index.load_index(path)


def test_tsv_with_an_oversized_field_is_noted_not_fatal(tmp_path):
    tsv = tmp_path / "labels.tsv"
    tsv.write_text("file\tlabel\n" + "x.mp4\t" + "y" * 200_000 + "\n")
    entries, note = read_tsv(tsv)
    assert entries == {} and "labels.tsv: cannot read (Error: field larger than field limit" in note


def test_corrupt_gzip_corpus_is_a_one_line_error(tmp_path):
    import gzip

    from multiview.data.text.corpus import iter_sentences

    good = gzip.compress(b"the cat sat on the mat\n" * 200)
    for name, data in (("torn.txt.gz", good[: len(good) // 2]), ("plain.txt.gz", b"not gzip at all\n")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UserError, match=f"corpus '.*{name}': cannot read"):
            list(iter_sentences(tmp_path / name))
