"""Word vectors on disk: the word2vec text and binary formats, and gensim's ``KeyedVectors``.

Both formats start with a ``"<count> <dim>"`` line; each row is the word, a space, then the
vector as text (``%.9g``, which round-trips float32 exactly) or as raw little-endian float32
followed by a newline (word2vec.c's ``-binary 1``). gensim's ``load_word2vec_format`` reads both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from multiview.core.errors import UserError
from multiview.core.io import atomic_write


def is_binary(path: str | Path) -> bool:
    return Path(path).suffix == ".bin"


def save_word2vec(path: str | Path, words: list[str], vectors, binary: bool | None = None) -> Path:
    """Write ``words`` and their ``vectors`` [V, D]; ``binary`` defaults to ``path`` ending ``.bin``."""
    vectors = np.asarray(torch.as_tensor(vectors).detach().cpu(), dtype="<f4")
    if len(words) != vectors.shape[0]:
        raise ValueError(f"{len(words)} words but {vectors.shape[0]} vectors")
    if any(not w or any(ch.isspace() for ch in w) for w in words):
        raise ValueError("words must be non-empty and free of whitespace")
    binary = is_binary(path) if binary is None else binary

    def write(f):
        f.write(f"{vectors.shape[0]} {vectors.shape[1]}\n".encode())
        for word, row in zip(words, vectors):
            if binary:
                f.write(word.encode() + b" " + row.tobytes() + b"\n")
            else:
                f.write((word + " " + " ".join(f"{v:.9g}" for v in row) + "\n").encode())

    return atomic_write(path, write)


def load_word2vec(path: str | Path, binary: bool | None = None) -> tuple[list[str], torch.Tensor]:
    """Read a word2vec text/binary file (ours or anyone's) with gensim: (words, vectors [V, D])."""
    kv = load_keyed_vectors(path, binary)
    return list(kv.index_to_key), torch.from_numpy(np.array(kv.vectors, dtype=np.float32))


MAX_DIM = 100_000
# gensim opens these compressed; their content can be at most this many times the file's size
COMPRESSED = {".gz": 1100, ".bz2": 1_500_000}


def check_header(path: Path, binary: bool) -> tuple[int, int]:
    """``(count, dim)`` from the first line, refused unless the file is big enough to hold them.

    A binary row is at least a 1-byte word, a space and ``4 * dim`` bytes; a text row at least a
    word and ``dim`` space-separated numbers (``2 * dim + 1`` bytes). A header that declares more
    rows than that would otherwise make the reader allocate ``count x dim`` floats up front.
    """
    from gensim import utils

    where = f"vectors {str(path)!r}"
    try:
        with utils.open(str(path), "rb") as f:
            line = f.readline(256)
    except (OSError, EOFError, ValueError) as e:
        raise UserError(f"{where}: cannot read ({type(e).__name__}: {e})") from None
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UserError(f"{where}: first line {line[:60]!r} is not '<count> <dim>'; expected a word2vec file")
    count, dim = int(parts[0]), int(parts[1])
    if not 0 < dim <= MAX_DIM:
        raise UserError(f"{where}: header declares {dim} dimensions; expected 1 to {MAX_DIM}")
    room = path.stat().st_size * COMPRESSED.get(path.suffix, 1) - len(line)
    row = 4 * dim + 2 if binary else 2 * dim + 1
    if count * row > room:
        raise UserError(f"{where}: header declares {count} words of {dim} dimensions, more than its "
                        f"{path.stat().st_size} bytes can hold")
    return count, dim


def load_keyed_vectors(path: str | Path, binary: bool | None = None):
    from gensim.models import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise UserError(f"vectors {str(path)!r}: no such file; expected a word2vec .txt or .bin file")
    binary = is_binary(path) if binary is None else binary
    check_header(path, binary)
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary)
    except (ValueError, UnicodeError, EOFError, KeyError, IndexError, OSError) as err:
        kind = "binary" if binary else "text"
        raise UserError(f"vectors {str(path)!r}: not a word2vec {kind} file ({type(err).__name__}: {err})") from None


def to_keyed_vectors(words: list[str], vectors, counts=None):
    """An in-memory gensim ``KeyedVectors`` holding ``vectors`` (and word counts, if given)."""
    from gensim.models import KeyedVectors

    vectors = np.asarray(torch.as_tensor(vectors).detach().cpu(), dtype=np.float32)
    kv = KeyedVectors(vectors.shape[1], dtype=np.float32)
    kv.add_vectors(list(words), vectors)
    if counts is not None:
        for word, count in zip(words, np.asarray(counts).tolist()):
            kv.set_vecattr(word, "count", int(count))
    return kv
