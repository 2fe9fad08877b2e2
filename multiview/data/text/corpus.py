"""Text corpora for word vectors: streaming lines, tokenizing, the vocabulary, subsampling.

The corpus convention is gensim's ``LineSentence``: one sentence (or document) per line, lines
longer than ``max_sentence_length`` tokens split into pieces (word2vec.c's ``MAX_SENTENCE_LENGTH``
and gensim's 10,000), cut while reading, in fixed-size chunks: memory stays bounded whatever the
line lengths. ``.bz2`` and ``.gz`` files are read transparently, so corpora larger than memory
stream. Two ready corpora ship with gensim (``gensim/test/test_data``): ``enwiki``, a shortened
English Wikipedia dump turned into plain text once with gensim's ``WikiCorpus`` and cached, and
``lee``, the Lee background corpus.

A corpus is encoded once into word ids (a memory-mapped ``.npy`` in the cache) plus sentence end
offsets; training then reads chunks of whole sentences from the map.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch

from multiview.core.errors import UserError
from multiview.core.io import atomic_write
from multiview.core.paths import cache_dir

BUNDLED = {
    "enwiki": "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
    "lee": "lee_background.cor",
}
TOKENIZERS = ("simple", "whitespace")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_LAST_SPACE = re.compile(r"\s\S*\Z")
CHUNK_CHARS = 1 << 20  # characters read at a time


def gensim_datapath(name: str) -> Path:
    """A file from gensim's bundled test data (``gensim.test.utils.datapath``)."""
    from gensim.test.utils import datapath

    path = Path(datapath(name))
    if not path.is_file():
        raise UserError(f"gensim test data {name!r}: not found at {path}; reinstall gensim")
    return path


def tokenize(line: str, tokenizer: str = "simple") -> list[str]:
    """``simple``: lowercase runs of letters (inner apostrophe kept); ``whitespace``: ``str.split``."""
    if tokenizer == "simple":
        return _WORD.findall(line.lower())
    if tokenizer == "whitespace":
        return line.split()
    raise UserError(f"tokenizer {tokenizer!r}: expected one of {', '.join(TOKENIZERS)}")


def _open_text(path: Path):
    if path.suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8", errors="replace")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def prepare_enwiki() -> Path:
    """gensim's Wikipedia extract as plain text, one article per line (made once, cached)."""
    out = cache_dir("text") / "enwiki-extract.txt"
    if out.is_file():
        return out
    from gensim.corpora import WikiCorpus

    wiki = WikiCorpus(str(gensim_datapath(BUNDLED["enwiki"])), dictionary={}, processes=1)

    def write(f):
        for tokens in wiki.get_texts():
            f.write(" ".join(tokens) + "\n")

    return atomic_write(out, write, mode="w")


def resolve_corpus(corpus: str) -> Path:
    """``enwiki``, ``lee``, or a path to a plain-text file."""
    if corpus == "enwiki":
        return prepare_enwiki()
    if corpus in BUNDLED:
        return gensim_datapath(BUNDLED[corpus])
    path = Path(corpus).expanduser()
    if not path.is_file():
        raise UserError(
            f"corpus {corpus!r}: no such file; expected a plain-text file (one sentence per "
            f"line) or one of {', '.join(BUNDLED)}"
        )
    return path


def iter_sentences(
    path: str | Path, tokenizer: str = "simple", max_sentence_length: int = 10000, chunk_chars: int = CHUNK_CHARS
) -> Iterator[list[str]]:
    """Stream token lists from a text file, one per line, split at ``max_sentence_length``.

    The file is read ``chunk_chars`` characters at a time, never a line at a time, and a line is
    cut into pieces as it is read (word2vec.c reads word by word and ends a sentence at
    ``MAX_SENTENCE_LENGTH``; gensim's ``LineSentence`` cuts at 10,000): memory stays bounded by the
    chunk and one piece whatever the line lengths (a 200 MB file without a newline peaks at a few
    MB). A chunk is tokenized up to its last whitespace, so no word is split; a run of more than
    ``chunk_chars`` characters without whitespace is cut there.
    """
    pending: list[str] = []

    def pieces(end_of_line: bool):
        full = len(pending) - len(pending) % max_sentence_length
        for i in range(0, full, max_sentence_length):
            yield pending[i : i + max_sentence_length]
        del pending[:full]
        if end_of_line and pending:
            yield pending[:]
            pending.clear()

    try:
        with _open_text(Path(path)) as f:
            tail = ""
            while True:
                block = f.read(chunk_chars)
                lines = (tail + block).split("\n")
                for line in lines[:-1] if block else lines:
                    pending += tokenize(line, tokenizer)
                    yield from pieces(end_of_line=True)
                if not block:
                    return
                tail = lines[-1]
                space = _LAST_SPACE.search(tail)
                cut = space.start() if space else (len(tail) if len(tail) > chunk_chars else 0)
                pending += tokenize(tail[:cut], tokenizer)
                tail = tail[cut:]
                yield from pieces(end_of_line=False)
    except (OSError, EOFError, zlib.error, ValueError) as e:  # BadGzipFile, a truncated .gz or .bz2
        raise UserError(f"corpus {str(path)!r}: cannot read ({type(e).__name__}: {e})") from None


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec.c's subsampling: keep word w with p = (sqrt(f/t) + 1) * t/f, capped at 1.

    ``f`` is the word's count and ``t = sample * total count`` (Mikolov et al. 2013, sec. 2.3, in
    the form word2vec.c and gensim implement). ``sample <= 0`` keeps every word.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)


@dataclass
class Vocab:
    """Words sorted by count, descending; ties put the later first appearance first (gensim's order)."""

    words: list[str]
    counts: np.ndarray

    def __post_init__(self):
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(cls, sentences, min_count: int = 5) -> Vocab:
        counter: Counter = Counter()
        for tokens in sentences:
            counter.update(tokens)
        kept = [(i, w, c) for i, (w, c) in enumerate(counter.items()) if c >= min_count]
        kept.sort(key=lambda iwc: (-iwc[2], -iwc[0]))
        kept = [(w, c) for _, w, c in kept]
        return cls([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64))

    def save(self, path: Path) -> None:
        text = "".join(f"{w}\t{c}\n" for w, c in zip(self.words, self.counts.tolist()))
        atomic_write(path, lambda f: f.write(text), mode="w")

    @classmethod
    def load(cls, path: Path) -> Vocab:
        rows = [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8")]
        return cls([w for w, _ in rows], np.array([int(c) for _, c in rows], dtype=np.int64))


@dataclass
class EncodedCorpus:
    """Word ids of the in-vocabulary tokens, sentence end offsets, the vocabulary."""

    ids: np.ndarray
    ends: np.ndarray
    vocab: Vocab
    raw_words: int

    def chunks(self, words_per_chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Whole sentences, about ``words_per_chunk`` ids at a time: (ids, sentence lengths)."""
        start_sentence, start = 0, 0
        while start_sentence < len(self.ends):
            stop_sentence = int(np.searchsorted(self.ends, start + words_per_chunk, side="right"))
            stop_sentence = max(stop_sentence, start_sentence + 1)
            stop = int(self.ends[stop_sentence - 1])
            lengths = np.diff(self.ends[start_sentence:stop_sentence], prepend=start)
            yield np.asarray(self.ids[start:stop]), lengths
            start_sentence, start = stop_sentence, stop

    def n_chunks(self, words_per_chunk: int) -> int:
        """How many chunks :meth:`chunks` yields (a whole epoch)."""
        return sum(1 for _ in self.chunks(words_per_chunk))


def encode_corpus(
    corpus: str,
    tokenizer: str = "simple",
    min_count: int = 5,
    max_sentence_length: int = 10000,
) -> EncodedCorpus:
    """Count, build the vocabulary and write word ids once per (file, settings); then reuse."""
    path = resolve_corpus(corpus)
    tokenize("", tokenizer)
    if min_count < 1:
        raise UserError(f"min_count: expected an integer >= 1, got {min_count}")
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{tokenizer}|{min_count}|{max_sentence_length}"
    folder = cache_dir("text", "encoded", hashlib.sha1(key.encode()).hexdigest()[:16])
    done = folder / "meta.txt"
    if not done.is_file():
        sentences = lambda: iter_sentences(path, tokenizer, max_sentence_length)  # noqa: E731
        vocab = Vocab.build(sentences(), min_count)
        if len(vocab) == 0:
            raise UserError(f"corpus {corpus!r}: no word occurs at least min_count={min_count} times")
        ids = np.lib.format.open_memmap(
            folder / "ids.tmp.npy", mode="w+", dtype=np.int32, shape=(int(vocab.counts.sum()),)
        )
        ends, at, raw = [], 0, 0
        for tokens in sentences():
            raw += len(tokens)
            row = [i for i in map(vocab.index.get, tokens) if i is not None]
            if row:
                ids[at : at + len(row)] = row
                at += len(row)
                ends.append(at)
        ids.flush()
        del ids
        (folder / "ids.tmp.npy").replace(folder / "ids.npy")
        atomic_write(folder / "ends.npy", lambda f: np.save(f, np.array(ends, dtype=np.int64)))
        vocab.save(folder / "vocab.tsv")
        atomic_write(done, lambda f: f.write(f"{raw}\n{key}\n"), mode="w")
    raw = int(done.read_text().split("\n")[0])
    return EncodedCorpus(
        ids=np.load(folder / "ids.npy", mmap_mode="r"),
        ends=np.load(folder / "ends.npy"),
        vocab=Vocab.load(folder / "vocab.tsv"),
        raw_words=raw,
    )


class _Chunks(torch.utils.data.IterableDataset):
    def __init__(self, corpus: EncodedCorpus, words_per_chunk: int):
        self.corpus, self.words_per_chunk = corpus, words_per_chunk
        self.skip = 0  # chunks already trained in the epoch being resumed (once)
        self.n = corpus.n_chunks(words_per_chunk)

    def __len__(self) -> int:
        return self.n  # a whole epoch, also when resuming: Lightning counts the trained chunks as done

    def __iter__(self):
        skip, self.skip = self.skip, 0
        for k, (ids, lengths) in enumerate(self.corpus.chunks(self.words_per_chunk)):
            if k >= skip:
                yield {"ids": torch.from_numpy(ids.astype(np.int64)), "lengths": torch.from_numpy(lengths)}


class TextCorpusDataModule(L.LightningDataModule):
    """A text corpus as chunks of whole sentences: ``{"ids": [n] int64, "lengths": [s] int64}``.

    Args:
        corpus: ``enwiki`` or ``lee`` (gensim's test corpora), or a plain-text file, one sentence or
            document per line (``.bz2``/``.gz`` read as they stream).
        tokenizer: ``simple`` (lowercase runs of letters) or ``whitespace`` (tokens as they are,
            gensim's ``LineSentence``).
        min_count: words seen fewer times than this are dropped from the vocabulary (gensim's).
        max_sentence_length: longer lines are cut into pieces of this many tokens (word2vec.c's 10,000).
        batch_words: word ids per training chunk of whole sentences.
    """

    def __init__(
        self,
        corpus: str = "enwiki",
        tokenizer: str = "simple",
        min_count: int = 5,
        max_sentence_length: int = 10000,
        batch_words: int = 16384,
    ):
        super().__init__()
        if batch_words < 1:
            raise UserError(f"batch_words: expected an integer >= 1, got {batch_words}")
        self.corpus_name, self.tokenizer = corpus, tokenizer
        self.min_count, self.max_sentence_length = min_count, max_sentence_length
        self.batch_words = batch_words
        self.corpus: EncodedCorpus | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.corpus is None:
            self.corpus = encode_corpus(
                self.corpus_name, self.tokenizer, self.min_count, self.max_sentence_length
            )

    @property
    def vocab(self) -> Vocab:
        self.setup()
        return self.corpus.vocab

    def train_dataloader(self):
        self.setup()
        self._chunks = _Chunks(self.corpus, self.batch_words)
        self._chunks.skip = getattr(self, "_resume_chunks", 0)
        return torch.utils.data.DataLoader(self._chunks, batch_size=None, num_workers=0)

    def state_dict(self) -> dict:
        """How many chunks of the current epoch are trained, so a resumed run starts after them."""
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return {}
        progress = trainer.fit_loop.epoch_loop.batch_progress
        return {"chunks": 0 if progress.is_last_batch else progress.current.processed}

    def load_state_dict(self, state: dict) -> None:
        self._resume_chunks = int(state.get("chunks", 0))
        if getattr(self, "_chunks", None) is not None:
            self._chunks.skip = self._resume_chunks


def corpus_figures(corpus: str, tokenizer: str = "simple", min_count: int = 5,
                   max_sentence_length: int = 10000) -> dict:
    """Prepare and encode ``corpus`` once (cached); its figures, as ``multiview data text`` prints them."""
    encoded = encode_corpus(corpus, tokenizer, min_count, max_sentence_length)
    counts = encoded.vocab.counts
    return {
        "text": str(resolve_corpus(corpus)),
        "tokens": encoded.raw_words,
        "in_vocabulary_tokens": int(encoded.ids.shape[0]),
        "sentences": len(encoded.ends),
        "vocabulary": len(encoded.vocab),
        "top_words": dict(zip(encoded.vocab.words[:10], counts[:10].tolist())),
    }
