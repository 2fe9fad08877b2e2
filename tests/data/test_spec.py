"""One clip spec: checked once, shared by the folder reader, the synthetic corpus and the shard
writer and reader; a shard run whose settings differ from the shards' stops with one line."""

from __future__ import annotations

import pytest

from multiview.core.errors import UserError
from multiview.data.video.datamodule import VideoFolderDataModule
from multiview.data.video.shard_stream import ShardDataModule, check_spec
from multiview.data.video.shards import ShardSpec
from multiview.data.video.spec import CLIP_ARGS, ClipSpec
from multiview.data.video.synthetic import SyntheticAV

BAD = [({"frames": 0}, "data.frames"), ({"fps": -1.0}, "data.fps"), ({"frame_size": 2.5}, "data.frame_size"),
       ({"audio_seconds": 0}, "data.audio_seconds"), ({"no_audio": "drop"}, "data.no_audio")]


@pytest.mark.parametrize("bad, key", BAD)
def test_a_bad_setting_is_one_line_naming_its_key(bad, key):
    with pytest.raises(UserError, match=key):
        ClipSpec(**bad)
    with pytest.raises(UserError, match=key):
        VideoFolderDataModule("x", **bad)


def test_every_clip_reader_and_writer_holds_the_same_spec():
    spec = ClipSpec(frames=2, fps=4.0, frame_size=32, sample_rate=8000, audio_seconds=0.5)
    kw = {k: v for k, v in spec.to_dict().items() if k != "no_audio"}
    assert VideoFolderDataModule("x", **kw).spec == spec
    assert SyntheticAV(**kw).spec == spec
    assert ShardDataModule("x", **kw).spec == spec
    assert ClipSpec.from_dict(ShardSpec(spec, clips_per_video=3).settings()) == spec
    assert spec.audio_samples == 4000


def test_shards_cut_with_other_settings_are_refused_by_name():
    meta = {"spec": ShardSpec(ClipSpec(frame_size=32)).settings()}
    check_spec(meta, ClipSpec(frame_size=32), "S")
    with pytest.raises(UserError, match=r"data.frame_size: 64, but the shards in S were cut with frame_size=32"):
        check_spec(meta, ClipSpec(), "S")


def test_the_help_explains_each_clip_setting():
    from jsonargparse import ArgumentParser

    for cls in (VideoFolderDataModule, SyntheticAV, ShardDataModule):
        parser = ArgumentParser()
        parser.add_class_arguments(cls, "data")
        text = parser.format_help()
        for key in ("frames", "fps", "frame_size", "sample_rate", "audio_seconds"):
            assert CLIP_ARGS[key].split(",")[0].split(" (")[0][:30] in " ".join(text.split()), (cls.__name__, key)
