"""What a shard folder may declare before litdata opens it: :func:`check_split`.

litdata picks how to decode every field of a sample from the folder's ``index.json``; one of its
serializers is ``pickle`` (and ``graph:pickle``, and any ``name:pickle`` resolves to it), so a
shard folder from someone else could run code in every loader worker. A split is opened only if
its ``index.json`` (read with :mod:`json`) declares exactly what ``multiview data shard``
(:mod:`multiview.data.video.shards`) writes: ``T`` JPEG frames as ``bytes``, int16 PCM as
``no_header_numpy``, ``int``/``str``/``float``/``str`` for label, caption, time and video, a
flat dict tree, in-file zstd, no encryption; and chunk files named as litdata names them,
inside the folder, of the size the index says. Anything else is one :class:`UserError` naming
the folder and the field.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from multiview.core.errors import UserError

CHUNK_NAME = re.compile(r"chunk-\d{1,6}-\d{1,9}\.bin")
MAX_SAMPLES_PER_CHUNK = 1 << 20
MAX_CHUNKS = 1 << 20
MAX_INDEX_BYTES = 64 << 20
TOP_KEYS = {"chunks", "config"}
TOP_OPTIONAL = {"updated_at"}
CHUNK_KEYS = {"chunk_bytes", "chunk_size", "dim", "filename"}
FIXED = {"chunk_size": None, "compression": "zstd", "compression_level": "batch", "encryption": None,
         "ipc_compression": None, "item_loader": "PyTreeLoader"}
COUNTS = ("chunk_bytes", "compression_batch_size")
CONFIG_KEYS = {*FIXED, *COUNTS, "data_format", "data_spec", "types"}


def sample_keys(frames: int) -> list[str]:
    """The fields of a stored sample, in the writer's order (:func:`multiview.data.video.shards.encode_sample`)."""
    return [f"jpeg{t}" for t in range(frames)] + ["audio", "label", "caption", "time", "video"]


def data_format(frames: int) -> list[str]:
    """litdata's serializer names for a sample of ``frames`` frames, as our writer emits them."""
    from litdata.constants import _NUMPY_DTYPES_MAPPING

    int16 = next(i for i, d in _NUMPY_DTYPES_MAPPING.items() if d == np.dtype(np.int16))
    return ["bytes"] * frames + [f"no_header_numpy:{int16}", "int", "str", "float", "str"]


def data_spec(frames: int):
    """The tree litdata records for our sample dict (parsed JSON, compared as such)."""
    from litdata.utilities._pytree import tree_flatten, treespec_dumps

    return json.loads(treespec_dumps(tree_flatten(dict.fromkeys(sample_keys(frames), 0))[1]))


def _is_count(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _refuse(folder, field: str, why: str) -> UserError:
    return UserError(f"data.shards: {folder}/index.json: {field}: {why}; refusing to read these shards "
                     "(only folders written by `multiview data shard` are read)")


def _read(folder: Path) -> dict:
    path = folder / "index.json"
    if not path.is_file():
        raise UserError(f"data.shards: {folder} holds no index.json; write shards with `multiview data shard`")
    if path.stat().st_size > MAX_INDEX_BYTES:
        raise _refuse(folder, "size", f"{path.stat().st_size} bytes, expected at most {MAX_INDEX_BYTES}")
    try:
        index = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as e:
        raise _refuse(folder, "json", f"not valid JSON ({str(e)[:80]})") from None
    if not isinstance(index, dict):
        raise _refuse(folder, "top level", f"expected an object, got {type(index).__name__}")
    keys = set(index)
    if not TOP_KEYS <= keys <= TOP_KEYS | TOP_OPTIONAL:
        raise _refuse(folder, "keys", f"expected {sorted(TOP_KEYS)}, got {sorted(keys)}")
    return index


def _check_config(folder: Path, config, frames: int) -> None:
    if not isinstance(config, dict):
        raise _refuse(folder, "config", "expected an object")
    if set(config) != CONFIG_KEYS:
        odd = sorted(set(config) ^ CONFIG_KEYS)
        raise _refuse(folder, "config", f"unexpected or missing fields {odd}")
    if config["data_format"] != data_format(frames):
        raise _refuse(folder, "config.data_format", f"{str(config['data_format'])[:200]}, expected "
                      f"{data_format(frames)} (JPEG frames, int16 PCM, label, caption, time, video)")
    for key, value in FIXED.items():
        if config[key] != value or type(config[key]) is not type(value):
            raise _refuse(folder, f"config.{key}", f"{str(config[key])[:80]!r}, expected {value!r}")
    for key in COUNTS:
        if not _is_count(config[key], 1, 1 << 40):
            raise _refuse(folder, f"config.{key}", f"{str(config[key])[:80]!r}, expected a positive integer")
    try:
        spec = json.loads(config["data_spec"]) if isinstance(config["data_spec"], str) else None
    except (ValueError, RecursionError):
        spec = None
    if spec != data_spec(frames):
        raise _refuse(folder, "config.data_spec", f"expected the tree of the fields {sample_keys(frames)}")
    types = config["types"]
    if not (isinstance(types, dict) and set(types) == set(sample_keys(frames))
            and all(isinstance(v, str) for v in types.values())):
        raise _refuse(folder, "config.types", f"expected a name for each of {sample_keys(frames)}")


def _check_chunk(folder: Path, real: str, i: int, chunk) -> int:
    where = f"chunks[{i}]"
    if not isinstance(chunk, dict) or set(chunk) != CHUNK_KEYS:
        raise _refuse(folder, where, f"expected the fields {sorted(CHUNK_KEYS)}")
    name = chunk["filename"]
    if not isinstance(name, str) or not CHUNK_NAME.fullmatch(name):
        raise _refuse(folder, f"{where}.filename", f"{str(name)[:80]!r}, expected a file name like chunk-0-0.bin")
    if chunk["dim"] is not None:
        raise _refuse(folder, f"{where}.dim", f"{str(chunk['dim'])[:40]!r}, expected null")
    if not _is_count(chunk["chunk_size"], 1, MAX_SAMPLES_PER_CHUNK):
        raise _refuse(folder, f"{where}.chunk_size", f"{str(chunk['chunk_size'])[:40]!r}, expected 1 to "
                      f"{MAX_SAMPLES_PER_CHUNK} samples")
    if not _is_count(chunk["chunk_bytes"], 1, 1 << 40):
        raise _refuse(folder, f"{where}.chunk_bytes", f"{str(chunk['chunk_bytes'])[:40]!r}, expected a size")
    path = folder / name
    if not path.is_file():
        raise UserError(f"data.shards: {path}: missing (listed in {folder}/index.json); the shards are "
                        "incomplete: copy the folder again or cut the shards again")
    if os.path.dirname(os.path.realpath(path)) != real:
        raise _refuse(folder, f"{where}.filename", f"{name} lies outside the folder (a link)")
    size = path.stat().st_size
    if size != chunk["chunk_bytes"]:
        raise UserError(f"data.shards: {path}: {size} bytes, but {folder}/index.json says {chunk['chunk_bytes']} "
                        "(truncated or changed); copy the folder again or cut the shards again")
    if chunk["chunk_size"] > size:  # every sample holds at least one JPEG frame
        raise _refuse(folder, f"{where}.chunk_size", f"{chunk['chunk_size']} samples in {size} bytes")
    return chunk["chunk_size"]


def check_split(folder: str | os.PathLike, frames: int) -> dict:
    """The parsed ``index.json`` of a split folder, if it is one our writer could have written for
    samples of ``frames`` frames; else one :class:`UserError` naming the folder and the field."""
    folder = Path(folder)
    if not _is_count(frames, 1, 1 << 10):
        raise UserError(f"data.frames: expected a positive number of frames, got {frames!r}")
    index = _read(folder)
    _check_config(folder, index["config"], frames)
    chunks = index["chunks"]
    if not isinstance(chunks, list) or not 1 <= len(chunks) <= MAX_CHUNKS:
        raise _refuse(folder, "chunks", f"expected a list of 1 to {MAX_CHUNKS} chunks")
    real = os.path.realpath(folder)
    names = [c.get("filename") if isinstance(c, dict) else None for c in chunks]
    if len(set(map(str, names))) != len(names):
        raise _refuse(folder, "chunks", "a chunk file is listed twice")
    index["samples"] = sum(_check_chunk(folder, real, i, c) for i, c in enumerate(chunks))
    return index
