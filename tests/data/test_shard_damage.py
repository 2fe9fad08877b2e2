"""Damaged shards end in one line naming the folder or the chunk, never a traceback: a truncated
or missing chunk, an absurd chunk size, garbage where a JPEG frame should be (read in a loader
worker, in the main process, or decoded on the batch's device)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from multiview.cli.main import main as cli_main
from multiview.core.errors import UserError
from multiview.data.video.shard_stream import ShardDataModule, ShardDataset, collate, decode_batch_frames
from tests.data.test_shard_trust import MODEL, data_section, one_line
from tests.small_shards import CLIP, rewrite_split, sample, small_shards


@pytest.fixture
def shards(tmp_path_factory, tmp_path) -> Path:
    return small_shards(tmp_path_factory, tmp_path / "shards")


def fit(tmp_path: Path, shards: Path, workers: int = 0) -> int:
    return cli_main(["fit", "--config", str(write_recipe(tmp_path, shards, workers))])


def write_recipe(tmp_path: Path, shards: Path, workers: int = 0) -> Path:
    recipe = tmp_path / "recipe.yaml"
    data = data_section(shards)
    data["init_args"]["num_workers"] = workers
    recipe.write_text(yaml.safe_dump({"trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                                                  "num_sanity_val_steps": 0, "logger": False},
                                      "model": MODEL, "data": data}))
    return recipe


def garbage_frames(shards: Path) -> None:
    """The training split rewritten with bytes that are not JPEG where frames should be."""
    n = json.loads((shards / "shards.json").read_text())["splits"]["train"]["samples"]
    rewrite_split(shards / "train", [sample(b"\xff\xd8 not a jpeg " * 4) for _ in range(n)])


def test_a_truncated_chunk_is_one_line_naming_it(shards, tmp_path, capsys):
    chunk = shards / "train" / "chunk-0-0.bin"
    chunk.write_bytes(chunk.read_bytes()[:-100])
    err = one_line(capsys, fit(tmp_path, shards))
    assert f"{chunk}: " in err and "truncated" in err


def test_a_missing_chunk_is_one_line_naming_it(shards):
    (shards / "val" / "chunk-0-0.bin").unlink()
    with pytest.raises(UserError, match=f"{shards / 'val' / 'chunk-0-0.bin'}: missing"):
        ShardDataModule(str(shards), frame_size=CLIP.frame_size, batch_size=2).setup("fit")


def test_an_absurd_chunk_size_is_refused(shards):
    path = shards / "train" / "index.json"
    meta = json.loads(path.read_text())
    meta["chunks"][0]["chunk_size"] = 1 << 19  # within the cap, but more samples than the chunk has bytes
    path.write_text(json.dumps(meta))
    with pytest.raises(UserError, match=r"chunks\[0\]\.chunk_size: 524288 samples in"):
        ShardDataset(str(shards / "train"))


def test_a_sample_count_that_disagrees_with_shards_json_is_refused(shards):
    meta = json.loads((shards / "shards.json").read_text())
    meta["splits"]["train"]["samples"] += 1
    (shards / "shards.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="lists 4 samples, but .*shards.json says 5"):
        ShardDataModule(str(shards), frame_size=CLIP.frame_size, batch_size=2).setup("fit")


def test_garbage_frames_in_a_loader_worker_are_one_line_naming_the_chunk(shards, tmp_path):
    """Through the console script: one line, and the process exits (its worker stopped) at once."""
    garbage_frames(shards)
    recipe = write_recipe(tmp_path, shards, workers=1)
    done = subprocess.run([sys.executable, "-m", "multiview.cli.main", "fit", "--config", str(recipe)],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and lines[-1].startswith("multiview: error: "), done.stderr[-2000:]
    assert f"{shards / 'train' / 'chunk-0-0.bin'}: sample " in lines[-1] and "JPEG" in lines[-1]
    assert "Traceback" not in done.stderr


def test_garbage_frames_decoded_on_the_device_are_one_line(shards):
    garbage_frames(shards)
    ds = ShardDataset(str(shards / "train"), frame_decode="device", shuffle=False)
    batch = collate([ds[0], ds[1]])
    with pytest.raises(UserError, match=r"a frame of samples \[0, 1\] is not a valid JPEG"):
        decode_batch_frames(batch, torch.device("cpu"))


def test_a_sample_of_the_wrong_shape_names_the_chunk(shards):
    ds = ShardDataset(str(shards / "train"), shuffle=False, audio_samples=CLIP.audio_samples + 1)
    with pytest.raises(UserError, match=r"chunk-0-0.bin: sample 0 cannot be read \(ValueError: audio of"):
        ds[0]
