"""A shard folder from someone else cannot run code: its index.json is checked against the formats
our writer emits before litdata reads it, on every route (fit, eval through a run folder, the
dataset itself), and a mutated index or chunk reads as valid samples or one UserError."""

from __future__ import annotations

import json
import pickle
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from multiview.cli.main import main as cli_main
from multiview.core.errors import UserError
from multiview.core.io import save_tensors
from multiview.data.video.shard_check import check_split
from multiview.data.video.shard_stream import ShardDataset
from tests.small_shards import CLIP, hostile_copy, small_shards

MODEL = {"class_path": "multiview.methods.cmc.CMC",
         "init_args": {"encoders": {"frame": {"name": "small_resnet", "width": 8},
                                    "audio": {"name": "logmel_resnet", "width": 8}}, "proj_dim": 16}}


def data_section(shards: Path) -> dict:
    return {"class_path": "multiview.data.video.shard_stream.ShardDataModule",
            "init_args": {"shards": str(shards), "frame_size": CLIP.frame_size, "batch_size": 2, "num_workers": 0}}


@pytest.fixture
def clean(tmp_path_factory, tmp_path) -> Path:
    return small_shards(tmp_path_factory, tmp_path / "clean")


def one_line(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("multiview: error: "), err
    return err


def test_litdata_alone_runs_the_payload(clean, tmp_path):
    """The fault, reproduced: litdata unpickles a field its index.json declares as pickle."""
    from litdata import StreamingDataset

    marker = tmp_path / "ran"
    hostile = hostile_copy(clean, tmp_path / "hostile", marker)
    StreamingDataset(str(hostile / "train"), shuffle=False)[0]
    assert marker.exists()


@pytest.mark.parametrize("serializer,split", [("pickle", "train"), ("graph:pickle", "val"), ("str:pickle", "train")])
def test_fit_refuses_a_shard_that_declares_an_unpickler(clean, tmp_path, capsys, serializer, split):
    marker = tmp_path / "ran"
    hostile = hostile_copy(clean, tmp_path / "hostile", marker, split, serializer)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                                                  "num_sanity_val_steps": 0},
                                      "model": MODEL, "data": data_section(hostile)}))
    err = one_line(capsys, cli_main(["fit", "--config", str(recipe)]))
    assert f"{hostile / split}/index.json: config.data_format" in err and serializer in err
    assert not marker.exists()


def test_eval_through_a_run_folder_refuses_it(clean, tmp_path, capsys):
    from multiview.eval.core.checkpoint import instantiate

    marker = tmp_path / "ran"
    hostile = hostile_copy(clean, tmp_path / "hostile", marker, "val")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"model": MODEL, "data": data_section(hostile)}))
    save_tensors(run / "checkpoints" / "last.ckpt", {"state_dict": instantiate(MODEL, "model").state_dict()})
    err = one_line(capsys, cli_main(["eval", "retrieval", "--checkpoint", str(run), "--bootstrap", "0"]))
    assert f"{hostile / 'val'}/index.json: config.data_format" in err
    assert not marker.exists()


@pytest.mark.parametrize("field,value", [
    (("config", "compression"), "lz4"),
    (("config", "encryption"), "fernet"),
    (("config", "item_loader"), "TokensLoader"),
    (("config", "data_spec"), '[1, {"type": "collections.OrderedDict", "context": "[]", "children_spec": []}]'),
    (("config", "extra"), 1),
    (("chunks", 0, "filename"), "../../outside.bin"),
    (("chunks", 0, "filename"), "/etc/passwd"),
    (("chunks", 0, "chunk_size"), 10**12),
    (("chunks", 0, "chunk_bytes"), -1),
    (("shards",), []),
])
def test_every_other_declaration_is_refused_naming_the_field(clean, field, value):
    path = clean / "train" / "index.json"
    meta = json.loads(path.read_text())
    node = meta
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    path.write_text(json.dumps(meta))
    name = ".".join(str(k) for k in field if isinstance(k, str))
    with pytest.raises(UserError, match=f"{clean / 'train'}/index.json: ") as e:
        check_split(clean / "train", 1)
    assert field[-1] in str(e.value) or name.split(".")[0] in str(e.value)
    assert "\n" not in str(e.value)


def test_a_chunk_linked_from_outside_the_folder_is_refused(clean, tmp_path):
    chunk = clean / "train" / "chunk-0-0.bin"
    shutil.move(chunk, tmp_path / "elsewhere.bin")
    chunk.symlink_to(tmp_path / "elsewhere.bin")
    with pytest.raises(UserError, match="outside the folder"):
        check_split(clean / "train", 1)


class CodeRan(BaseException):  # noqa: N818 -- not an Exception, so no reader's `except Exception` hides it
    """Raised by any unpickling while the property test reads shards."""


def _mutate(data, meta: dict, chunk: bytes) -> tuple[dict, bytes]:
    kind = data.draw(st.sampled_from(["value", "drop", "add", "bytes", "truncate"]))
    meta = json.loads(json.dumps(meta))
    if kind in ("value", "drop", "add"):
        where = data.draw(st.sampled_from([meta, meta["config"], meta["chunks"][0]]))
        key = data.draw(st.sampled_from(sorted(where)))
        if kind == "drop":
            del where[key]
        elif kind == "add":
            where[data.draw(st.text(min_size=1, max_size=8))] = 0
        else:
            where[key] = data.draw(st.one_of(
                st.none(), st.booleans(), st.integers(-2**40, 2**40), st.text(max_size=12),
                st.sampled_from(["pickle", "graph:pickle", "bytes:pickle", "json", "tensor", "../x.bin",
                                 "PyTreeLoader"]),
                st.lists(st.sampled_from(["bytes", "str", "int", "pickle", "no_header_numpy:1"]), max_size=8)))
        return meta, chunk
    buf = bytearray(chunk)
    if kind == "truncate":
        buf = buf[:data.draw(st.integers(0, len(buf) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 8))):
            buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):  # the index agrees with the damaged chunk: the reader sees its bytes
        meta["chunks"][0]["chunk_bytes"] = len(buf)
    return meta, bytes(buf)


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_shards_read_as_samples_or_one_user_error(clean_once, data):
    meta, chunk = _mutate(data, json.loads((clean_once / "index.json").read_bytes()),
                          (clean_once / "chunk-0-0.bin").read_bytes())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "train"
        folder.mkdir()
        (folder / "index.json").write_text(json.dumps(meta))
        (folder / "chunk-0-0.bin").write_bytes(chunk)
        with mock.patch.object(pickle, "loads", trap), mock.patch.object(pickle, "load", trap):
            read_all(folder)


def trap(*args, **kwargs):
    raise CodeRan("a shard made the reader unpickle")


def read_all(folder: Path) -> None:
    try:
        ds = ShardDataset(str(folder), 1, shuffle=False, audio_samples=CLIP.audio_samples,
                          frame_size=CLIP.frame_size)
        for i in range(len(ds)):
            s = ds[i]
            assert s["frame"].shape == (3, CLIP.frame_size, CLIP.frame_size) and s["index"] == i
            assert s["audio"].shape == (CLIP.audio_samples,) and torch.isfinite(s["audio"]).all()
    except UserError as e:
        assert "\n" not in str(e)


@pytest.fixture(scope="module")
def clean_once(tmp_path_factory) -> Path:
    return small_shards(tmp_path_factory, tmp_path_factory.mktemp("property") / "clean") / "train"
