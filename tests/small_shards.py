"""A small real shard folder written by our own writer (``multiview data shard``'s
:func:`multiview.data.video.shards.write_shards`), and hostile copies of it: splits rewritten
with litdata's own writer to declare other serializers, payloads that would leave a file if run.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np

from multiview.data.video import index, shards
from multiview.data.video.spec import ClipSpec
from tests.av_media import write_video

CLIP = ClipSpec(frame_size=16)
SPEC = shards.ShardSpec(CLIP, clips_per_video=2, val_clips=1, positions="uniform")


def write_small_shards(root: Path, videos: int = 3) -> Path:
    """``root/shards``: ``videos`` short clips cut by our writer (the last one held out)."""
    media = root / "videos"
    media.mkdir(parents=True)
    for k in range(videos):
        write_video(media / f"v{k}.mp4", click_frame=2 + k)
    index.build_index(media, media / "index.jsonl", workers=1, quiet=True)
    shards.write_shards(str(media / "index.jsonl"), str(root / "shards"), SPEC, workers=1, quiet=True)
    return root / "shards"


@functools.cache
def _shared(base: str) -> Path:
    return write_small_shards(Path(base) / "small_shards")


def small_shards(tmp_path_factory, dst: Path) -> Path:
    """A fresh copy at ``dst`` of the session's small shard folder (written once per test process)."""
    shutil.copytree(_shared(str(tmp_path_factory.getbasetemp())), dst)
    return dst


class Payload:
    """Pickled, it is a call that writes ``marker`` when unpickled: code run by reading a sample."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def rewrite_split(folder: Path, samples: list[dict]) -> None:
    """Replace the split at ``folder`` by ``samples`` written with litdata's own writer."""
    from litdata.streaming.writer import BinaryWriter

    shutil.rmtree(folder)
    writer = BinaryWriter(str(folder), chunk_bytes=1 << 26, compression="zstd")
    for i, sample in enumerate(samples):
        writer[i] = sample
    writer.done()
    writer.merge()


def sample(jpeg: bytes = b"", caption=None) -> dict:
    """A sample shaped as our writer stores it (one frame)."""
    return {"jpeg0": jpeg, "audio": np.zeros(CLIP.audio_samples, np.int16), "label": 0,
            "caption": "a clip" if caption is None else caption, "time": 0.5, "video": "v.mp4"}


def hostile_copy(clean: Path, dst: Path, marker: Path, split: str = "train", serializer: str = "pickle") -> Path:
    """A copy of ``clean`` whose ``split`` holds captions that run :class:`Payload` when unpickled,
    declared as ``serializer`` (litdata resolves ``pickle``, ``NAME:pickle`` and ``graph:pickle``
    to an unpickler)."""
    shutil.copytree(clean, dst)
    n = json.loads((clean / "shards.json").read_text())["splits"][split]["samples"]
    jpeg = Path(clean / split / "chunk-0-0.bin")  # any bytes: the payload runs before a frame is decoded
    rewrite_split(dst / split, [sample(jpeg.read_bytes()[:64], Payload(marker)) for _ in range(n)])
    meta = json.loads((dst / split / "index.json").read_text())
    formats = meta["config"]["data_format"]
    assert formats[3] == "pickle"  # litdata chose its unpickler for the payload
    formats[3] = serializer
    (dst / split / "index.json").write_text(json.dumps(meta))
    return dst
