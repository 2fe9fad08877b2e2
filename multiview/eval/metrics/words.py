"""Word-vector benchmarks: Google analogies and word-similarity Spearman, with OOV rates.

``multiview eval words --vectors FILE`` reads word2vec text/binary vectors and reports:

- ``analogy/accuracy``: Mikolov et al. 2013a ("Efficient Estimation of Word Representations in
  Vector Space") questions ``a : b :: c : ?`` from gensim's ``questions-words.txt``, answered by
  3CosAdd (argmax cos(x, b - a + c) over the 300,000 most frequent words, a, b, c excluded), case
  folded; questions with a word outside those are skipped and counted in ``analogy/oov``. This
  is what gensim's ``KeyedVectors.evaluate_word_analogies`` computes.
- ``sim/<set>/spearman``: Spearman's rho between human scores and cosine similarity, for gensim's
  bundled ``wordsim353.tsv`` and ``simlex999.txt`` and every ``*.txt`` set in the shared
  ``text/word-sim`` folder; pairs with an unknown word are skipped and counted in ``sim/<set>/oov``.

``--baselines random_init,ppmi_svd`` scores, beside the vectors, the same vocabulary at word2vec's
random init and the PPMI-SVD vectors of the same corpus
(:func:`multiview.eval.core.text_baselines.ppmi_svd`), under ``baseline/<name>/...``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from multiview import paths
from multiview.data.text.corpus import gensim_datapath
from multiview.errors import UserError

SHARED_WORD_SIM = paths.shared_data() / "text" / "word-sim"


def case_folded_index(words: list[str], limit: int | None = None) -> dict[str, int]:
    """Lowercased word -> row; the most frequent spelling (first in the list) wins."""
    index: dict[str, int] = {}
    for i, w in enumerate(words[:limit]):
        index.setdefault(w.lower(), i)
    return index


def read_pairs(path: Path) -> list[tuple[str, str, float]]:
    """``word1 word2 score`` per line (tab or space separated); ``#`` lines are comments."""
    pairs = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        try:
            pairs.append((parts[0].lower(), parts[1].lower(), float(parts[2])))
        except (IndexError, ValueError):
            raise UserError(f"{path}:{n}: expected 'word1 word2 score', got {line.strip()!r}") from None
    return pairs


def similarity_spearman(index, unit: torch.Tensor, pairs) -> dict[str, float]:
    known = [(index[a], index[b], s) for a, b, s in pairs if a in index and b in index]
    oov = 1.0 - len(known) / max(1, len(pairs))
    if len(known) < 3:
        return {"oov": oov, "pairs": float(len(known))}
    a, b, gold = zip(*known)
    cos = (unit[list(a)] * unit[list(b)]).sum(1)
    return {"spearman": float(spearmanr(gold, cos.numpy()).statistic), "oov": oov, "pairs": float(len(known))}


def read_analogies(path: Path) -> list[tuple[str, str, str, str]]:
    questions = []
    for line in open(path, encoding="utf-8"):
        if line.startswith(":") or not line.strip():
            continue
        questions.append(tuple(w.lower() for w in line.split()[:4]))
    return questions


def analogy_accuracy(index, unit: torch.Tensor, questions, fold=None, batch: int = 2048) -> dict[str, float]:
    """3CosAdd accuracy over questions whose four words are in ``index`` (rows of ``unit``).

    Candidates are the rows of ``unit``; ``fold[row]`` maps a candidate to its case-folded row
    (identity by default) before it is compared with the answer.
    """
    known = [tuple(index[w] for w in q) for q in questions if all(w in index for w in q)]
    oov = 1.0 - len(known) / max(1, len(questions))
    if not known:
        return {"oov": oov, "questions": 0.0}
    q = torch.tensor(known)
    fold = torch.arange(len(unit)) if fold is None else torch.as_tensor(fold)
    correct = 0
    for s in range(0, len(q), batch):
        a, b, c, d = q[s : s + batch].T
        scores = F.normalize(unit[b] - unit[a] + unit[c], dim=1) @ unit.T
        rows = torch.arange(len(a))
        for excluded in (a, b, c):
            scores[rows, excluded] = -float("inf")
        correct += int((fold[scores.argmax(1)] == d).sum())
    return {"accuracy": correct / len(known), "oov": oov, "questions": float(len(known))}


def similarity_sets(word_sim_dir: Path | None = SHARED_WORD_SIM) -> dict[str, Path]:
    sets = {"ws353": gensim_datapath("wordsim353.tsv"), "simlex999": gensim_datapath("simlex999.txt")}
    if word_sim_dir is not None and Path(word_sim_dir).is_dir():
        for path in sorted(Path(word_sim_dir).glob("*.txt")):
            sets[path.stem.lower()] = path
    return sets


def evaluate_vectors(
    words: list[str],
    vectors: torch.Tensor,
    word_sim_dir: Path | None = SHARED_WORD_SIM,
    questions: Path | None = None,
    restrict_vocab: int = 300000,
) -> dict[str, float]:
    """All benchmarks as flat ``{"analogy/accuracy": ..., "sim/ws353/spearman": ...}``."""
    unit = F.normalize(torch.as_tensor(vectors).float()[:restrict_vocab], dim=1)
    index = case_folded_index(words, restrict_vocab)
    fold = [index[w.lower()] for w in words[:restrict_vocab]]
    questions = read_analogies(questions or gensim_datapath("questions-words.txt"))
    out = {f"analogy/{k}": v for k, v in analogy_accuracy(index, unit, questions, fold).items()}
    for name, path in similarity_sets(word_sim_dir).items():
        for k, v in similarity_spearman(index, unit, read_pairs(path)).items():
            out[f"sim/{name}/{k}"] = v
    return out
