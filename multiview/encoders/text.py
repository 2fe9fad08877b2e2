"""The word view: a caption encoder, list of strings -> [B, D], as a bag of words.

A caption's vector is the mean of its words' vectors (an ``nn.EmbeddingBag`` in ``mean`` mode),
the simple baseline that word2vec's authors use for phrases (Mikolov et al. 2013, sec. 5,
additive compositionality). The table is either our exported word2vec vectors (frozen by
default; words outside the vocabulary are ignored) or, without vectors, a learned table over
hashed tokens (the hashing trick, Weinberger et al. 2009). An empty caption encodes to zeros.
"""

from __future__ import annotations

import zlib

import torch
from torch import nn

from multiview.core.errors import UserError
from multiview.data.text.corpus import tokenize


class TextEncoder(nn.Module):
    """Mean of word vectors.

    Args:
        vectors: a word2vec .txt/.bin file (ours or gensim's); None for a learned hashed table.
        dim: width of the learned table (without ``vectors``).
        buckets: rows of the learned hashed table.
        trainable: train the table (default: frozen for ``vectors``, trained otherwise).
        tokenizer: how captions are split into words ("simple" or "whitespace").
    """

    modality = "text"

    def __init__(
        self,
        vectors: str | None = None,
        dim: int = 100,
        buckets: int = 65536,
        trainable: bool | None = None,
        tokenizer: str = "simple",
    ):
        super().__init__()
        tokenize("", tokenizer)
        self.tokenizer = tokenizer
        if vectors is not None:
            from multiview.data.text.word_vectors import load_word2vec

            words, table = load_word2vec(vectors)
            self.vocab: dict[str, int] | None = {}
            for i, w in enumerate(words):
                self.vocab.setdefault(w.lower(), i)
            self.bag = nn.EmbeddingBag.from_pretrained(table, freeze=not bool(trainable), mode="mean")
        else:
            if buckets < 1 or dim < 1:
                raise UserError(f"buckets and dim must be >= 1, got {buckets}, {dim}")
            self.vocab = None
            self.bag = nn.EmbeddingBag(buckets, dim, mode="mean")
            nn.init.normal_(self.bag.weight, std=dim**-0.5)
            self.bag.weight.requires_grad_(trainable is not False)
        self.out_dim = self.bag.embedding_dim

    @classmethod
    def from_table(cls, words: list[str], table: torch.Tensor, tokenizer: str = "simple") -> TextEncoder:
        """A frozen encoder over an in-memory vocabulary and its vectors (``[len(words), D]``)."""
        encoder = cls(dim=table.shape[1], buckets=1, trainable=False, tokenizer=tokenizer)
        encoder.vocab = {}
        for i, w in enumerate(words):
            encoder.vocab.setdefault(w.lower(), i)
        encoder.bag = nn.EmbeddingBag.from_pretrained(table.float(), freeze=True, mode="mean")
        return encoder

    def token_ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat word rows and per-caption offsets, as ``EmbeddingBag`` takes them."""
        if isinstance(texts, str):
            raise TypeError("TextEncoder takes a list of strings, got one string")
        rows, offsets = [], []
        for text in texts:
            offsets.append(len(rows))
            tokens = tokenize(text, self.tokenizer)
            if self.vocab is not None:
                rows += [self.vocab[t] for t in tokens if t in self.vocab]
            else:
                n = self.bag.num_embeddings
                rows += [zlib.crc32(t.encode()) % n for t in tokens]
        device = self.bag.weight.device
        as_tensor = lambda x: torch.tensor(x, dtype=torch.long, device=device)  # noqa: E731
        return as_tensor(rows), as_tensor(offsets)

    def features(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return {"pool": self(texts)}

    def forward(self, texts: list[str]) -> torch.Tensor:
        rows, offsets = self.token_ids(texts)
        return self.bag(rows, offsets)
