"""Word-vector benchmarks: Google analogies and word-similarity Spearman/Pearson, with OOV rates.

``multiview eval words --vectors FILE`` reads word2vec text/binary vectors and reports:

- ``analogy/accuracy``: Mikolov et al. 2013a ("Efficient Estimation of Word Representations in
  Vector Space") questions ``a : b :: c : ?`` from gensim's ``questions-words.txt``, answered by
  3CosAdd (argmax cos(x, b - a + c) over the 300,000 most frequent words). Words are compared
  case-insensitively, as gensim's ``case_insensitive=True`` does: a question word stands for the
  most frequent of its spellings (upper-cased forms equal), every vocabulary row whose
  upper-cased form equals a, b or c is excluded from the answers (``Athens`` cannot answer a
  question whose c is ``athens``), and an answer counts when its upper-cased form is d's.
  Questions with a word outside the 300,000 are skipped and counted in ``analogy/oov``. This is
  gensim's ``KeyedVectors.evaluate_word_analogies``, except that gensim looks only at the 5 best
  rows other than a, b and c, so with 5 or more other spellings of them among the best it
  answers wrong where we look further. Non-finite scores never win.
- ``sim/<set>/spearman`` and ``sim/<set>/pearson``: Spearman's rho and Pearson's r between human
  scores and cosine similarity (gensim's ``evaluate_word_pairs``), for gensim's bundled
  ``wordsim353.tsv`` and ``simlex999.txt`` and every ``*.txt`` set in the shared
  ``text/word-sim`` folder; pairs with an unknown word are skipped and counted in ``sim/<set>/oov``.

``--baselines random_init,ppmi_svd`` scores, beside the vectors, the same vocabulary at word2vec's
random init and the PPMI-SVD vectors of the same corpus
(:func:`multiview.eval.core.text_baselines.ppmi_svd`), under ``baseline/<name>/...``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr

from multiview.core import paths
from multiview.core.errors import UserError
from multiview.data.text.corpus import gensim_datapath
from multiview.eval.metrics.ranking import ranking_scores

SHARED_WORD_SIM = "shared"  # stands for ``<data folder>/text/word-sim`` (:func:`multiview.core.paths.data_dir`)


def fold_case(word: str) -> str:
    """The form words are compared in: upper case, as gensim's ``case_insensitive=True``."""
    return word.upper()


def case_folded_index(words: list[str], limit: int | None = None) -> dict[str, int]:
    """Case-folded word -> row; the most frequent spelling (first in the list) wins."""
    index: dict[str, int] = {}
    for i, w in enumerate(words[:limit]):
        index.setdefault(fold_case(w), i)
    return index


def read_pairs(path: Path) -> list[tuple[str, str, float]]:
    """``word1 word2 score`` per line (tab or space separated); ``#`` lines are comments."""
    pairs = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        try:
            pairs.append((fold_case(parts[0]), fold_case(parts[1]), float(parts[2])))
        except (IndexError, ValueError):
            raise UserError(f"{path}:{n}: expected 'word1 word2 score', got {line.strip()!r}") from None
    return pairs


def word_similarity(index, unit: torch.Tensor, pairs) -> dict[str, float]:
    """Spearman's rho and Pearson's r between the pairs' human scores and their cosine similarity."""
    known = [(index[a], index[b], s) for a, b, s in pairs if a in index and b in index]
    oov = 1.0 - len(known) / max(1, len(pairs))
    if len(known) < 3:
        return {"oov": oov, "pairs": float(len(known))}
    a, b, gold = zip(*known)
    cos = (unit[list(a)] * unit[list(b)]).sum(1)
    return {"spearman": float(spearmanr(gold, cos.numpy()).statistic),
            "pearson": float(pearsonr(gold, cos.numpy().astype("float64")).statistic),
            "oov": oov, "pairs": float(len(known))}


def read_analogies(path: Path) -> list[tuple[str, str, str, str]]:
    """Case-folded ``a b c d`` questions; section headers (``:``) and lines of another length skipped."""
    questions = []
    for line in open(path, encoding="utf-8"):
        words = line.split()
        if not line.startswith(":") and len(words) == 4:
            questions.append(tuple(fold_case(w) for w in words))
    return questions


def analogy_accuracy(index, unit: torch.Tensor, questions, fold=None, batch: int = 512) -> dict[str, float]:
    """3CosAdd accuracy over questions whose four words are in ``index`` (rows of ``unit``).

    Candidates are the rows of ``unit``; ``fold[row]`` maps a candidate to the row of its
    case-folded form (identity by default). Every candidate that folds to a, b or c is excluded,
    and the answer is right when it folds to d.
    """
    known = [tuple(index[w] for w in q) for q in questions if all(w in index for w in q)]
    oov = 1.0 - len(known) / max(1, len(questions))
    if not known:
        return {"oov": oov, "questions": 0.0}
    q = torch.tensor(known)
    fold = torch.arange(len(unit)) if fold is None else torch.as_tensor(fold)
    others = (fold != torch.arange(len(fold))).nonzero().squeeze(1)  # rows spelling a word seen before
    correct = 0
    for s in range(0, len(q), batch):
        a, b, c, d = q[s : s + batch].T
        scores = ranking_scores(F.normalize(unit[b] - unit[a] + unit[c], dim=1) @ unit.T)
        for excluded in (fold[a], fold[b], fold[c]):
            scores[torch.arange(len(a)), excluded] = -float("inf")
            row, j = (fold[others].unsqueeze(0) == excluded.unsqueeze(1)).nonzero(as_tuple=True)
            scores[row, others[j]] = -float("inf")
        best = scores.max(1)  # no finite candidate (a NaN vector) answers nothing
        correct += int(((fold[best.indices] == fold[d]) & torch.isfinite(best.values)).sum())
    return {"accuracy": correct / len(known), "oov": oov, "questions": float(len(known))}


def similarity_sets(word_sim_dir: Path | str | None = SHARED_WORD_SIM) -> dict[str, Path]:
    if word_sim_dir == SHARED_WORD_SIM:
        word_sim_dir = paths.data_dir() / "text" / "word-sim"
    sets = {"ws353": gensim_datapath("wordsim353.tsv"), "simlex999": gensim_datapath("simlex999.txt")}
    if word_sim_dir is not None and Path(word_sim_dir).is_dir():
        for path in sorted(Path(word_sim_dir).glob("*.txt")):
            sets[path.stem.lower()] = path
    return sets


def evaluate_vectors(
    words: list[str],
    vectors: torch.Tensor,
    word_sim_dir: Path | str | None = SHARED_WORD_SIM,
    questions: Path | None = None,
    restrict_vocab: int = 300000,
) -> dict[str, float]:
    """All benchmarks as flat ``{"analogy/accuracy": ..., "sim/ws353/spearman": ...}``."""
    unit = F.normalize(torch.as_tensor(vectors).float()[:restrict_vocab], dim=1)
    index = case_folded_index(words, restrict_vocab)
    fold = [index[fold_case(w)] for w in words[:restrict_vocab]]
    questions = read_analogies(questions or gensim_datapath("questions-words.txt"))
    out = {f"analogy/{k}": v for k, v in analogy_accuracy(index, unit, questions, fold).items()}
    for name, path in similarity_sets(word_sim_dir).items():
        for k, v in word_similarity(index, unit, read_pairs(path)).items():
            out[f"sim/{name}/{k}"] = v
    return out
