"""``multiview eval words``: analogies and word similarity of word vectors, with baselines.

Writes ``words.json`` (the figures, with their ``headline`` as the end-of-fit
:class:`~multiview.eval.reports.WordsReport` declares it) to ``RUN/eval/words`` when the vectors
lie in a run folder, else ``$MULTIVIEW_HOME/runs/eval/<vectors' name>/words``, or to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from multiview.core.errors import UserError
from multiview.core.io import write_json
from multiview.core.outputs import claim_file
from multiview.data.text.word_vectors import load_word2vec
from multiview.eval.commands import EVAL
from multiview.eval.core.checkpoint import eval_dir
from multiview.eval.metrics.words import SHARED_WORD_SIM, evaluate_vectors
from multiview.eval.reports.base import pick_headline
from multiview.eval.reports.words import WordsReport

HELP = EVAL["words"].help


def baselines(args, words: list[str], vectors: torch.Tensor) -> dict[str, tuple[list[str], torch.Tensor]]:
    wanted = [b for b in args.baselines.split(",") if b]
    if set(wanted) - {"random_init", "ppmi_svd"}:
        raise UserError(f"--baselines {args.baselines!r}: expected a comma-separated subset of random_init,ppmi_svd")
    out = {}
    if "random_init" in wanted:
        from multiview.objectives.skipgram import initial_vectors

        out["random_init"] = (words, initial_vectors(*vectors.shape, torch.Generator().manual_seed(12345)))
    if "ppmi_svd" in wanted:
        from multiview.eval.core.text_baselines import ppmi_svd_of

        path = ppmi_svd_of(args.vectors, args.corpus, vectors.shape[1])
        if path is None:
            raise UserError("--baselines ppmi_svd: the vectors are not in a word2vec run folder; pass --corpus")
        out["ppmi_svd"] = load_word2vec(path)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="multiview eval words", description=HELP)
    parser.add_argument("--vectors", required=True, help="word2vec vectors (.bin binary, else text)")
    parser.add_argument("--word-sim", default=SHARED_WORD_SIM,
                        help="folder of *.txt similarity sets (default: <data folder>/text/word-sim)")
    parser.add_argument("--questions", default=None, help="analogies (default: gensim's questions-words.txt)")
    parser.add_argument("--restrict-vocab", type=int, default=300000)
    parser.add_argument("--out", default=None,
                        help="JSON file (default: RUN/eval/words/words.json for vectors in a run folder)")
    parser.add_argument("--baselines", default="", help="comma-separated subset of random_init,ppmi_svd")
    parser.add_argument("--corpus", default="", help="corpus of the PPMI-SVD baseline (default: the run's)")
    args = parser.parse_args(argv)
    if args.out:  # the default lies in the run folder
        claim_file(args.out, "eval words")
    if args.questions and not Path(args.questions).is_file():
        raise UserError(f"--questions {args.questions!r}: no such file")
    words, vectors = load_word2vec(args.vectors)
    questions = Path(args.questions) if args.questions else None
    metrics = evaluate_vectors(words, vectors, args.word_sim, questions, args.restrict_vocab)
    metrics = {"vectors": str(args.vectors), "vocab": len(words), **metrics}
    for name, (b_words, b_vectors) in baselines(args, words, vectors).items():
        scores = evaluate_vectors(b_words, b_vectors, args.word_sim, questions, args.restrict_vocab)
        metrics.update({f"baseline/{name}/{k}": v for k, v in scores.items()})
    metrics["headline"] = pick_headline(WordsReport.headline, metrics)
    out = Path(args.out) if args.out else eval_dir(args.vectors, "words") / "words.json"
    write_json(out, metrics)
    json.dump(metrics, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0
