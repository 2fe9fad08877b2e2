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
(:func:`multiview.eval.text_baselines.ppmi_svd`), under ``baseline/<name>/...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from multiview.data.text import gensim_datapath
from multiview.data.word_vectors import load_word2vec
from multiview.errors import UserError
from multiview.io import write_json

SHARED_WORD_SIM = "shared"  # stands for ``<data folder>/text/word-sim`` (:func:`multiview.paths.data_dir`)


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


def similarity_sets(word_sim_dir: Path | str | None = SHARED_WORD_SIM) -> dict[str, Path]:
    if word_sim_dir == SHARED_WORD_SIM:
        from multiview import paths

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
    fold = [index[w.lower()] for w in words[:restrict_vocab]]
    questions = read_analogies(questions or gensim_datapath("questions-words.txt"))
    out = {f"analogy/{k}": v for k, v in analogy_accuracy(index, unit, questions, fold).items()}
    for name, path in similarity_sets(word_sim_dir).items():
        for k, v in similarity_spearman(index, unit, read_pairs(path)).items():
            out[f"sim/{name}/{k}"] = v
    return out


def baselines(args, words: list[str], vectors: torch.Tensor) -> dict[str, tuple[list[str], torch.Tensor]]:
    wanted = [b for b in args.baselines.split(",") if b]
    if set(wanted) - {"random_init", "ppmi_svd"}:
        raise UserError(f"--baselines {args.baselines!r}: expected a comma-separated subset of random_init,ppmi_svd")
    out = {}
    if "random_init" in wanted:
        from multiview.objectives.skipgram import initial_vectors

        out["random_init"] = (words, initial_vectors(*vectors.shape, torch.Generator().manual_seed(12345)))
    if "ppmi_svd" in wanted:
        from multiview.eval.text_baselines import ppmi_svd_of

        path = ppmi_svd_of(args.vectors, args.corpus, vectors.shape[1])
        if path is None:
            raise UserError("--baselines ppmi_svd: the vectors are not in a word2vec run folder; pass --corpus")
        out["ppmi_svd"] = load_word2vec(path)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval words", description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", required=True, help="word2vec vectors (.bin binary, else text)")
    parser.add_argument("--word-sim", default=SHARED_WORD_SIM,
                        help="folder of *.txt similarity sets (default: <data folder>/text/word-sim)")
    parser.add_argument("--questions", default=None, help="analogies (default: gensim's questions-words.txt)")
    parser.add_argument("--restrict-vocab", type=int, default=300000)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--baselines", default="", help="comma-separated subset of random_init,ppmi_svd")
    parser.add_argument("--corpus", default="", help="corpus of the PPMI-SVD baseline (default: the run's)")
    args = parser.parse_args(argv)
    if args.questions and not Path(args.questions).is_file():
        raise UserError(f"--questions {args.questions!r}: no such file")
    words, vectors = load_word2vec(args.vectors)
    questions = Path(args.questions) if args.questions else None
    metrics = evaluate_vectors(words, vectors, args.word_sim, questions, args.restrict_vocab)
    metrics = {"vectors": str(args.vectors), "vocab": len(words), **metrics}
    for name, (b_words, b_vectors) in baselines(args, words, vectors).items():
        scores = evaluate_vectors(b_words, b_vectors, args.word_sim, questions, args.restrict_vocab)
        metrics.update({f"baseline/{name}/{k}": v for k, v in scores.items()})
    if args.out:
        write_json(args.out, metrics)
    import json

    json.dump(metrics, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0
