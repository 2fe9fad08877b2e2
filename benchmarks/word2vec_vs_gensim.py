"""Our word2vec (skip-gram or CBOW, negative sampling) against gensim's, same corpus and settings.

    python benchmarks/word2vec_vs_gensim.py [--corpus enwiki|lee|FILE] [--seeds 3] [--workers 2] [--sg 0]

For each seed, trains gensim's ``Word2Vec(sg=SG, workers=W)`` on the corpus held in memory, then
ours through the Lightning trainer (as ``multiview fit`` runs it) on the encoded corpus, and
scores both with the same evaluator (equal to gensim's, see tests/eval/test_words_eval.py).
Speed is corpus words per second of training (vocabulary building excluded, reported apart),
wall clock and per CPU-second. Prints JSON on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import statistics
import sys
import tempfile
import time
import warnings

import lightning as L
import torch

from multiview.data.text.corpus import TextCorpusDataModule, encode_corpus, iter_sentences, resolve_corpus
from multiview.eval.metrics.words import evaluate_vectors
from multiview.methods.word2vec import Word2Vec

KEYS = {"ws353": "sim/ws353/spearman", "simlex999": "sim/simlex999/spearman", "analogy": "analogy/accuracy"}


class TrainClock(L.Callback):
    def on_train_start(self, trainer, module):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def on_train_end(self, trainer, module):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def run_gensim(sentences, words: int, args, seed: int) -> dict:
    from gensim.models import Word2Vec as GensimWord2Vec

    model = GensimWord2Vec(vector_size=args.dim, window=args.window, negative=args.negative, sg=args.sg, hs=0,
                           min_count=args.min_count, sample=args.sample, workers=args.workers, seed=seed)
    t = time.perf_counter()
    model.build_vocab(sentences)
    vocab_s = time.perf_counter() - t
    wall, cpu = time.perf_counter(), time.process_time()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    kv = model.wv
    scores = evaluate_vectors(list(kv.index_to_key), torch.from_numpy(kv.vectors), word_sim_dir=None)
    return _row(words * args.epochs, wall, cpu, vocab_s, scores)


def run_ours(words: int, args, seed: int, tokenizer: str) -> dict:
    t = time.perf_counter()
    data = TextCorpusDataModule(corpus=args.corpus, tokenizer=tokenizer, min_count=args.min_count,
                                batch_words=args.batch_words)
    data.setup()
    vocab_s = time.perf_counter() - t
    model = Word2Vec(dim=args.dim, window=args.window, negative=args.negative, sample=args.sample,
                     workers=args.workers, seed=seed, batch_pairs=args.batch_pairs,
                     sg=bool(args.sg))
    clock = TrainClock()
    with tempfile.TemporaryDirectory() as run_dir:  # the fit's export (vectors.bin, .txt) is not kept
        trainer = L.Trainer(max_epochs=args.epochs, accelerator=args.accelerator, devices=1, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                            callbacks=[clock], default_root_dir=run_dir)
        trainer.fit(model, datamodule=data)
    scores = evaluate_vectors(model.words, model.vectors(), word_sim_dir=None)
    return _row(words * args.epochs, clock.wall, clock.cpu, vocab_s, scores)


def _row(total_words: int, wall: float, cpu: float, vocab_s: float, scores: dict) -> dict:
    return {"words_per_s": total_words / wall, "words_per_cpu_s": total_words / cpu, "train_s": wall,
            "vocab_s": vocab_s, **{k: scores[v] for k, v in KEYS.items()}}


def summary(rows: list[dict]) -> dict:
    out = {k: statistics.mean(r[k] for r in rows) for k in KEYS}
    out["words_per_s"] = statistics.median(r["words_per_s"] for r in rows)
    out["words_per_cpu_s"] = statistics.median(r["words_per_cpu_s"] for r in rows)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default="enwiki", help="enwiki, lee, or a plain-text file")
    p.add_argument("--tokenizer", default=None, help="simple | whitespace (default: whitespace for enwiki)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-words", type=int, default=32768)
    p.add_argument("--batch-pairs", type=int, default=inspect.signature(Word2Vec).parameters["batch_pairs"].default)
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--sg", type=int, default=1, choices=(0, 1), help="1: skip-gram, 0: CBOW (mean of contexts)")
    return p


def compare(args: argparse.Namespace) -> dict:
    """gensim then ours for each seed, on ``args.corpus``; the report with ratios and deltas."""
    tokenizer = args.tokenizer or ("whitespace" if args.corpus == "enwiki" else "simple")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("gensim").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    sentences = list(iter_sentences(resolve_corpus(args.corpus), tokenizer))
    words = sum(map(len, sentences))
    encode_corpus(args.corpus, tokenizer, args.min_count)  # the one-off cache, not timed below
    rows = {"gensim": [], "ours": []}
    for seed in range(args.seeds):
        rows["gensim"].append(run_gensim(sentences, words, args, seed))
        print(f"seed {seed} gensim {rows['gensim'][-1]}", file=sys.stderr)
        rows["ours"].append(run_ours(words, args, seed, tokenizer))
        print(f"seed {seed} ours   {rows['ours'][-1]}", file=sys.stderr)
    gensim, ours = summary(rows["gensim"]), summary(rows["ours"])
    report = {
        "corpus": args.corpus, "corpus_words": words, "sentences": len(sentences),
        "settings": {k: getattr(args, k) for k in ("epochs", "dim", "window", "negative", "min_count", "sample",
                                                   "workers", "batch_words", "batch_pairs", "accelerator", "sg")},
        "tokenizer": tokenizer, "cpu_threads": torch.get_num_threads(),
        "gensim": gensim, "ours": ours, "runs": rows,
        "speed_ratio": ours["words_per_s"] / gensim["words_per_s"],
        "seed_speed_ratios": [o["words_per_s"] / g["words_per_s"] for o, g in zip(rows["ours"], rows["gensim"])],
        "cpu_efficiency_ratio": ours["words_per_cpu_s"] / gensim["words_per_cpu_s"],
        "delta": {k: ours[k] - gensim[k] for k in KEYS},
    }
    report["targets"] = {
        "speed_ratio>=1": report["speed_ratio"] >= 1.0,
        "ws353_within_0.02": abs(report["delta"]["ws353"]) <= 0.02,
        "simlex999_within_0.02": abs(report["delta"]["simlex999"]) <= 0.02,
        "analogy_within_1_point": abs(report["delta"]["analogy"]) <= 0.01,
        "not_worse_than_gensim_by_more_than_tolerance": report["delta"]["ws353"] >= -0.02
        and report["delta"]["simlex999"] >= -0.02 and report["delta"]["analogy"] >= -0.01,
    }
    return report


def main(argv: list[str] | None = None) -> int:
    report = compare(parser().parse_args(argv))
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
