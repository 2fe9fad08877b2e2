"""Hand-designed text representations, the baselines beside learned word vectors.

- :class:`HashedBag`: counts of words, or of character n-grams with word-boundary marks (the
  subword units of Bojanowski et al. 2017, here counted rather than learned), hashed into a fixed
  number of buckets (Weinberger et al. 2009) and log-scaled, ``log(1 + count)``.
- :func:`ppmi_svd`: count-based distributional vectors from the same corpus as the word2vec
  run (Levy, Goldberg & Dagan 2015, "Improving Distributional Similarity with Lessons Learned
  from Word Embeddings"): co-occurrences within ``window`` words weighted ``(window - d + 1) /
  window`` at distance ``d`` (the expected weight of word2vec's dynamic window), positive PMI
  with the context distribution raised to 0.75 (their eq. 3),

      PPMI(w, c) = max(0, log( P(w, c) / (P(w) P_0.75(c)) )),   P_0.75(c) = #c^0.75 / sum #c'^0.75,

  then a rank-``dim`` truncated SVD, ``W = U_d S_d^0.5`` (their "eigenvalue weighting" p = 0.5).
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.extmath import randomized_svd
from torch import nn

from multiview.core import paths
from multiview.core.errors import UserError
from multiview.data.text.corpus import tokenize


class HashedBag(nn.Module):
    """``features(texts) -> {"pool": [B, buckets]}``, log-scaled hashed counts of ``unit``s:
    ``"word"`` or ``"char<n>"`` (character n-grams of ``<word>``)."""

    def __init__(self, unit: str = "word", buckets: int = 2048, tokenizer: str = "simple"):
        super().__init__()
        if unit != "word" and not (unit.startswith("char") and unit[4:].isdigit()):
            raise UserError(f"unit: expected 'word' or 'char<n>', got {unit!r}")
        self.unit, self.buckets, self.tokenizer = unit, buckets, tokenizer
        self.out_dim = buckets

    def units(self, text: str) -> list[str]:
        words = tokenize(text, self.tokenizer)
        if self.unit == "word":
            return words
        n = int(self.unit[4:])
        grams = []
        for w in words:
            w = f"<{w}>"
            grams += [w[i:i + n] for i in range(max(1, len(w) - n + 1))]
        return grams

    def features(self, texts: list[str]) -> dict[str, torch.Tensor]:
        out = torch.zeros(len(texts), self.buckets)
        for row, text in enumerate(texts):
            for u in self.units(text):
                out[row, zlib.crc32(u.encode()) % self.buckets] += 1
        return {"pool": out.log1p()}


def cooccurrence(ids: np.ndarray, ends: np.ndarray, vocab_size: int, window: int) -> sp.csr_matrix:
    """Symmetric weighted co-occurrence counts ``[V, V]`` within sentences (ends: offsets)."""
    sentence = np.repeat(np.arange(len(ends)), np.diff(ends, prepend=0))
    ids = np.asarray(ids, dtype=np.int64)
    rows, cols, vals = [], [], []
    for d in range(1, window + 1):
        same = sentence[:-d] == sentence[d:]
        a, b = ids[:-d][same], ids[d:][same]
        w = np.full(len(a), (window - d + 1) / window)
        rows += [a, b]
        cols += [b, a]
        vals += [w, w]
    return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(vocab_size, vocab_size)).tocsr()


def ppmi(counts: sp.csr_matrix, cds: float = 0.75) -> sp.csr_matrix:
    """Positive PMI with context distribution smoothing ``cds`` (zero rows/columns stay zero)."""
    counts = counts.tocoo()
    total = counts.sum()
    row_sum = np.asarray(counts.sum(1)).ravel()
    col_pow = np.asarray(counts.sum(0)).ravel() ** cds
    p_c = col_pow / col_pow.sum()
    pmi = np.log(counts.data / total) - np.log(row_sum[counts.row] / total) - np.log(p_c[counts.col])
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (counts.row[keep], counts.col[keep])), shape=counts.shape)


def ppmi_svd(ids: np.ndarray, ends: np.ndarray, vocab_size: int, dim: int = 100, window: int = 5,
             seed: int = 0) -> np.ndarray:
    """``[V, dim]`` word vectors ``U_d S_d^0.5`` of the PPMI matrix."""
    m = ppmi(cooccurrence(ids, ends, vocab_size, window))
    u, s, _ = randomized_svd(m, n_components=min(dim, vocab_size - 1), n_iter=5, random_state=seed)
    return (u * np.sqrt(s)).astype(np.float32)


def ppmi_svd_file(corpus: str, tokenizer: str, min_count: int, dim: int = 100, window: int = 5) -> Path:
    """PPMI-SVD vectors of a corpus as a word2vec ``.bin`` file, computed once and cached."""
    from multiview.data.text.corpus import encode_corpus
    from multiview.data.text.word_vectors import save_word2vec

    encoded = encode_corpus(corpus, tokenizer, min_count)
    key = f"{corpus}|{tokenizer}|{min_count}|{dim}|{window}|{len(encoded.vocab)}|{len(encoded.ids)}"
    path = paths.cache_dir("ppmi") / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.bin"
    if not path.exists():
        vectors = ppmi_svd(np.asarray(encoded.ids), encoded.ends, len(encoded.vocab), dim, window)
        save_word2vec(path, encoded.vocab.words, vectors)
    return path


def hand_designed_text(encoder: nn.Module, checkpoint: str, corpus: str = "") -> dict[str, nn.Module]:
    """Bags of words and of character trigrams; PPMI-SVD vectors (of ``encoder``'s width) when the
    corpus is known: ``corpus``, else the one of the word2vec run behind ``checkpoint``."""
    from multiview.encoders.text import TextEncoder

    tokenizer = getattr(encoder, "tokenizer", "simple")
    reps: dict[str, nn.Module] = {"bag_of_words": HashedBag("word", tokenizer=tokenizer),
                                  "char_trigrams": HashedBag("char3", tokenizer=tokenizer)}
    path = ppmi_svd_of(checkpoint, corpus, encoder.out_dim)
    if path is not None:
        reps["ppmi_svd"] = TextEncoder(vectors=str(path), tokenizer=tokenizer).eval()
    else:
        print("  no corpus known for the PPMI-SVD baseline (pass --corpus)", flush=True)
    return reps


def ppmi_svd_of(checkpoint: str | Path, corpus: str, dim: int) -> Path | None:
    """:func:`ppmi_svd_file` of ``corpus``, else of the corpus of the word2vec run behind
    ``checkpoint`` (with its tokenizer and ``min_count``); None when neither is known."""
    from multiview.eval.core.checkpoint import corpus_of

    source = corpus_of(checkpoint) or {"tokenizer": "simple", "min_count": 5}
    source["corpus"] = corpus or source.get("corpus", "")
    if not source["corpus"]:
        return None
    return ppmi_svd_file(source["corpus"], source["tokenizer"], source["min_count"], dim=dim)
