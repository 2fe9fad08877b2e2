"""Labelled text for evaluating word and sentence encoders, from real public sources.

- ``words``: single words labelled with their kind, read from the sections of the Google
  analogy set (Mikolov et al. 2013a, gensim's ``questions-words.txt``). Each section pairs two
  kinds, e.g. ``gram8-plural`` pairs a noun with its plural and ``city-in-state`` a US city with
  its state; a word given two different kinds (``georgia``: country and US state) is dropped.
- ``polarity``: movie-review sentences labelled negative or positive (Pang & Lee 2005), the 200
  of gensim's ``pang_lee_polarity.cor``, in fastText's ``__label__X text`` format.
- a file of the user's: fastText lines (``__label__X text``) or ``text<TAB>label`` rows.

Every dataset yields ``{"input": str, "label": int}``.
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from multiview.core.errors import UserError
from multiview.data.text.corpus import gensim_datapath

SECTION_KINDS = {
    "capital-common-countries": ("capital", "country"),
    "capital-world": ("capital", "country"),
    "currency": ("country", "currency"),
    "city-in-state": ("us-city", "us-state"),
    "family": ("male-relative", "female-relative"),
    "gram1-adjective-to-adverb": ("adjective", "adverb"),
    "gram2-opposite": ("adjective", "negated-adjective"),
    "gram3-comparative": ("adjective", "comparative"),
    "gram4-superlative": ("adjective", "superlative"),
    "gram5-present-participle": ("verb", "present-participle"),
    "gram6-nationality-adjective": ("country", "nationality"),
    "gram7-past-tense": ("present-participle", "past-tense"),
    "gram8-plural": ("noun", "plural-noun"),
    "gram9-plural-verbs": ("verb", "third-person-verb"),
}


class LabelledText(Dataset):
    """``texts[i]`` with integer label ``labels[i]``; ``classes[label]`` names it."""

    def __init__(self, texts: list[str], labels: list[int], classes: list[str], source: str = ""):
        self.texts, self.labels, self.classes, self.source = list(texts), list(labels), list(classes), source

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> dict:
        return {"input": self.texts[i], "label": self.labels[i]}

    def subset(self, keep: list[int]) -> LabelledText:
        return LabelledText([self.texts[i] for i in keep], [self.labels[i] for i in keep], self.classes, self.source)


def from_names(pairs: list[tuple[str, str]], source: str) -> LabelledText:
    classes = sorted({name for _, name in pairs})
    index = {c: i for i, c in enumerate(classes)}
    return LabelledText([t for t, _ in pairs], [index[n] for _, n in pairs], classes, source)


def word_kinds(path: str | Path | None = None) -> LabelledText:
    """Words of the analogy set labelled with their kind (lowercased, each word once)."""
    path = Path(path) if path else gensim_datapath("questions-words.txt")
    kinds: dict[str, set[str]] = {}
    section = None
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        parts = line.split()
        if not parts:
            continue
        if parts[0] == ":":
            section = parts[1] if len(parts) > 1 else ""
            if section not in SECTION_KINDS:
                raise UserError(f"{path}:{n}: unknown analogy section {section!r}")
            continue
        if section is None or len(parts) != 4:
            raise UserError(f"{path}:{n}: expected ': section' or four words, got {line.strip()!r}")
        first, second = SECTION_KINDS[section]
        for word, kind in zip(parts, (first, second, first, second)):
            kinds.setdefault(word.lower(), set()).add(kind)
    return from_names(sorted((w, k.pop()) for w, k in kinds.items() if len(k) == 1), str(path))


def labelled_lines(path: str | Path) -> LabelledText:
    """fastText ``__label__X text`` lines or ``text<TAB>label`` rows."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--data {path}: no such file; expected words, polarity, or a labelled text file")
    pairs = []
    for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if line.startswith("__label__"):
            label, _, text = line.partition(" ")
            pairs.append((text.strip(), label[len("__label__"):]))
        elif "\t" in line:
            text, _, label = line.rpartition("\t")
            pairs.append((text.strip(), label.strip()))
        else:
            raise UserError(f"{path}:{n}: expected '__label__X text' or 'text<TAB>label', got {line[:60]!r}")
    if len({label for _, label in pairs}) < 2:
        raise UserError(f"{path}: expected at least two labels, found {len({lb for _, lb in pairs})}")
    return from_names(pairs, str(path))


def load_labelled_text(name: str) -> LabelledText:
    if name == "words":
        return word_kinds()
    if name == "polarity":
        return labelled_lines(gensim_datapath("pang_lee_polarity.cor"))
    return labelled_lines(name)
