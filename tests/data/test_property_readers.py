"""Property-based tests (hypothesis) for every reader of user files.

Random and mutated inputs (recipes through the CLI parser, video index files, TSVs, word-vector
files, tar and gzip files, checkpoints) must end in a valid result or one ``UserError`` line:
never another exception, a hang, or an allocation far beyond the file's size.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from multiview.core.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
COMMON = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": True, "database": None}
FAST = settings(max_examples=60, **COMMON)
SLOW = settings(max_examples=20, phases=[Phase.explicit, Phase.generate], **COMMON)  # no slow shrinking


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """``base`` with a few bytes flipped, a slice cut out or repeated, or cut short."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "dup", "truncate", "insert"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        j = draw(st.integers(i, min(len(data), i + 64)))
        if kind == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[i:j]
        elif kind == "dup":
            data[i:i] = data[i:j]
        elif kind == "truncate":
            del data[i:]
        else:
            data[i:i] = draw(st.binary(max_size=16))
    return bytes(data)


@st.composite
def lying_header(draw, base: bytes) -> bytes:
    """``base`` (a word-vector file) whose ``<count> <dim>`` line is replaced by random numbers."""
    count, dim = draw(st.integers(0, 10**6)), draw(st.integers(0, 2000))
    return f"{count} {dim}\n".encode() + base.split(b"\n", 1)[1]


def inputs(base: bytes):
    return st.one_of(st.binary(max_size=400), mutated(base))


def _bounded(fn, size: int):
    """Run ``fn``; a UserError counts as a clean refusal; Python/numpy allocation stays bounded."""
    tracemalloc.start()
    try:
        result = fn()
    except UserError as e:
        assert "\n" not in str(e).strip()
        result = e
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 2_000_000 + 200 * size, f"peak {peak} bytes for a {size}-byte file"
    return result


def check_reader(folder: Path, name: str, base: bytes, read, valid=lambda result: None, data=None):
    """Feed ``read(path)`` random and mutated files: a valid result (checked by ``valid``) or one
    line naming the file; allocation bounded by the file's size. The first call warms imports."""
    path = folder / name
    path.write_bytes(base)
    read(path)

    @FAST
    @given(data if data is not None else inputs(base))
    def check(raw):
        path.write_bytes(raw)
        result = _bounded(lambda: read(path), len(raw))
        if isinstance(result, UserError):
            assert str(path) in str(result) or repr(str(path)) in str(result)
        else:
            valid(result)

    check()


# --- word vectors ------------------------------------------------------------------------------

def _vectors(binary: bool) -> bytes:
    from multiview.data.text.word_vectors import save_word2vec

    buf = Path(__file__).parent / "__vectors_tmp"
    rng = np.random.default_rng(0)
    path = save_word2vec(buf.with_suffix(".bin" if binary else ".txt"), ["king", "queen", "man"],
                         rng.standard_normal((3, 5)))
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.mark.parametrize("binary", [True, False])
def test_word_vector_files(tmp_path_factory, binary):
    from multiview.data.text.word_vectors import load_word2vec

    def valid(result):
        words, vectors = result
        assert len(words) == vectors.shape[0] and vectors.dtype == torch.float32

    base = _vectors(binary)
    check_reader(tmp_path_factory.mktemp("vectors"), "v.bin" if binary else "v.txt", base,
                 load_word2vec, valid, data=st.one_of(inputs(base), lying_header(base)))


# --- video index files -------------------------------------------------------------------------

RECORD = {"path": "/v/a.mp4", "duration": 2.0, "fps": 10.0, "frames": 20, "width": 32, "height": 24,
          "has_audio": True, "audio_ok": True, "sample_rate": 16000, "channels": 1, "size": 100,
          "mtime_ns": 5, "relpath": "a.mp4", "label": "dog", "caption": None}
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats() | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=6)


@st.composite
def index_text(draw) -> bytes:
    records = []
    for _ in range(draw(st.integers(0, 3))):
        r = dict(RECORD)
        for key in draw(st.lists(st.sampled_from(sorted(RECORD)), max_size=3)):
            if draw(st.booleans()):
                r.pop(key, None)
            else:
                r[key] = draw(JSON_VALUES)
        records.append(json.dumps(r))
    text = "\n".join(records).encode()
    return draw(st.one_of(st.just(text), mutated(text or b"{}")))


def test_index_files(tmp_path_factory):
    from multiview.data.video.index import RECORD_TYPES, load_index

    def valid(records):  # what loads is what the readers can use
        for r in records:
            assert isinstance(r["path"], str) and isinstance(r["duration"], (int, float))
            assert all(r.get(k) is None or isinstance(r[k], t) for k, t in RECORD_TYPES.items())

    check_reader(tmp_path_factory.mktemp("index"), "idx.jsonl", json.dumps(RECORD).encode(), load_index, valid,
                 data=index_text())


# --- TSVs --------------------------------------------------------------------------------------

def test_annotation_tsvs(tmp_path_factory):
    from multiview.data.video.annotations import read_tsv

    def valid(result):
        entries, note = result
        assert isinstance(entries, dict) and (note is None or "labels.tsv" in note)
        for entry in entries.values():
            assert set(entry) <= {"label", "caption"} and all(isinstance(v, str) for v in entry.values())

    base = b"file\tlabel\tcaption\na.mp4\tdog\ta dog barks\nsub/b.mp4\tcat\t\n"
    check_reader(tmp_path_factory.mktemp("tsv"), "labels.tsv", base, read_tsv, valid)


def test_labelled_text_files(tmp_path_factory):
    from multiview.data.text.text_labels import labelled_lines

    def valid(result):
        assert len(result.texts) == len(result.labels) and len(result.classes) >= 2

    base = b"__label__pos a fine film\n__label__neg a dull film\ngood fun\tpos\n"
    check_reader(tmp_path_factory.mktemp("labelled"), "labels.txt", base, labelled_lines, valid)


# --- tar and gzip files ------------------------------------------------------------------------

def _tar_gz() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("a/1.txt", b"one " * 50), ("b/2.txt", b"two " * 50)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_tar_files(tmp_path_factory):
    from multiview.core import cache as cache_store

    base = _tar_gz()
    folder = tmp_path_factory.mktemp("tars")
    count = iter(range(10**6))

    @FAST
    @given(inputs(base))
    def check(data):
        path = folder / f"set{next(count)}.tar.gz"
        path.write_bytes(data)
        try:
            out = cache_store.extract_tar(path)
        except UserError:
            assert not any(p.name.startswith(path.name.split(".")[0] + "-")
                           for p in cache_store.folder("extracted").iterdir())
            return
        assert out.is_dir()

    check()


def test_gzip_corpora(tmp_path_factory):
    from multiview.data.text.corpus import iter_sentences

    base = gzip.compress(b"the cat sat on the mat\nthe dog ran\n" * 20)
    check_reader(tmp_path_factory.mktemp("gz"), "corpus.txt.gz", base, lambda p: list(iter_sentences(p)),
                 lambda sentences: all(isinstance(w, str) for s in sentences for w in s))


# --- checkpoints -------------------------------------------------------------------------------

def test_checkpoints(tmp_path_factory):
    from multiview.eval.core.checkpoint import read_state

    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2)}, "epoch": 3}, buf)
    size = len(buf.getvalue()) + 64
    check_reader(tmp_path_factory.mktemp("ckpt"), "last.ckpt", buf.getvalue(), read_state,
                 lambda state: all(torch.is_tensor(v) and v.numel() <= size for v in state.values()))


# --- recipes through the CLI parser ------------------------------------------------------------

SCALARS = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12)


@st.composite
def recipe_text(draw) -> bytes:
    recipe = yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(["trainer", "model", "data", "top"]))
        target = recipe if section == "top" else recipe.get(section)
        if section in ("model", "data") and isinstance(target, dict) and draw(st.booleans()):
            target = target.get("init_args")
        if not isinstance(target, dict):
            continue
        key = draw(st.sampled_from(sorted(target) + ["unknown_key"]))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(SCALARS | st.lists(SCALARS, max_size=2))
    text = yaml.safe_dump(recipe).encode()
    return draw(st.one_of(st.just(text), st.just(text), mutated(text)))


@pytest.mark.slow
def test_recipes_through_the_cli(tmp_path_factory, capsys):
    from multiview.cli import main as cli

    folder = tmp_path_factory.mktemp("recipes")
    codes = set()

    @SLOW
    @given(recipe_text())
    def check(data):
        path = folder / "recipe.yaml"
        path.write_bytes(data)
        code = cli.main(["fit", "--config", str(path), "--print_config"])
        err = capsys.readouterr().err.strip()
        assert code in (0, 2), err
        codes.add(code)
        if code == 2:
            last = err.splitlines()[-1]
            assert last.startswith("multiview: error: ") and "Traceback" not in err

    check()
    assert codes == {0, 2}  # both valid and refused recipes were tried
