"""Our word2vec against gensim's on a matrix of corpus shapes x architectures; one JSON.

    python benchmarks/word2vec_matrix.py [--quick] [--seeds 3] [--out FILE]

Shapes, all from gensim's Wikipedia extract (``enwiki``, ~450k words in 116 article lines):

- ``short``: the extract cut into lines of 3-13 words (8 on average, as captions, titles and
  dictionary text), cut anew and shuffled in each of 4 passes (~1.8M words, ~226k lines);
- ``long``: the extract as it is (gensim splits its lines at 10,000 words);
- ``vocab``: the extract with ``min_count 1`` (every word kept, ~5x the vocabulary).

Each shape runs with skip-gram (``sg``) and CBOW (``cbow``, gensim's ``sg=0, cbow_mean=1``), 3
seeds per cell, gensim and ours side by side (``word2vec_vs_gensim.compare``): words/s of both,
their ratio per seed and the median's, and the quality deltas (ours - gensim: WS353 and SimLex
Spearman, analogy accuracy) with their standard errors over the seeds (near-zero scores, as CBOW's
with min_count 1, vary by about 0.03 from seed to seed, more than the 0.02 band). ``--quick``
trains 2 epochs instead of 5 (a few minutes on 2 idle cores). Progress goes to stderr; the JSON
to ``--out`` (default: stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from word2vec_vs_gensim import KEYS, compare, parser

from multiview.core.io import atomic_write
from multiview.core.paths import cache_dir
from multiview.data.text.corpus import prepare_enwiki

SHAPES = {"short": {}, "long": {}, "vocab": {"min_count": 1}}
ARCHITECTURES = {"sg": 1, "cbow": 0}


def short_lines(passes: int = 4, shortest: int = 3, longest: int = 13, seed: int = 0) -> Path:
    """The Wikipedia extract re-cut into short lines (see the module docstring); cached."""
    out = cache_dir("text") / f"enwiki-short-{passes}x{shortest}-{longest}-{seed}.txt"
    if out.is_file():
        return out
    words = prepare_enwiki().read_text(encoding="utf-8").split()
    rng = random.Random(seed)
    lines = []
    for _ in range(passes):
        at = 0
        while at < len(words):
            n = rng.randint(shortest, longest)
            lines.append(" ".join(words[at : at + n]))
            at += n
    rng.shuffle(lines)
    return atomic_write(out, lambda f: f.write("\n".join(lines) + "\n"), mode="w")


def cell_args(shape: str, sg: int, args: argparse.Namespace) -> argparse.Namespace:
    corpus = str(short_lines()) if shape == "short" else "enwiki"
    argv = ["--corpus", corpus, "--tokenizer", "whitespace", "--seeds", str(args.seeds), "--sg", str(sg),
            "--epochs", str(args.epochs), "--workers", str(args.workers)]
    for key, value in SHAPES[shape].items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return parser().parse_args(argv)


def delta_errors(runs: dict) -> dict:
    """Standard error of each mean delta (ours - gensim), from the two sides' seed-to-seed spread."""
    n = len(runs["ours"])
    if n < 2:
        return {k: float("nan") for k in KEYS}
    return {k: (statistics.variance(r[k] for r in runs["ours"]) / n
                + statistics.variance(r[k] for r in runs["gensim"]) / n) ** 0.5 for k in KEYS}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 epochs per run instead of 5")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated subset of {','.join(SHAPES)}")
    p.add_argument("--architectures", default=",".join(ARCHITECTURES), help="sg,cbow or one of them")
    p.add_argument("--out", default=None, help="JSON file (default: stdout)")
    args = p.parse_args(argv)
    args.epochs = 2 if args.quick else 5
    cells, started = {}, time.perf_counter()
    load = [os.getloadavg()[0]]
    for shape in args.shapes.split(","):
        for arch in args.architectures.split(","):
            print(f"== {shape} {arch}", file=sys.stderr)
            report = compare(cell_args(shape, ARCHITECTURES[arch], args))
            load.append(os.getloadavg()[0])
            cells[f"{shape}/{arch}"] = {
                "corpus": report["corpus"], "corpus_words": report["corpus_words"],
                "sentences": report["sentences"], "min_count": report["settings"]["min_count"],
                "gensim_words_per_s": [r["words_per_s"] for r in report["runs"]["gensim"]],
                "ours_words_per_s": [r["words_per_s"] for r in report["runs"]["ours"]],
                "ratios": report["seed_speed_ratios"], "median_ratio": report["speed_ratio"],
                "delta": report["delta"], "delta_se": delta_errors(report["runs"]),
                "gensim": report["gensim"], "ours": report["ours"],
            }
    result = {
        "settings": {"epochs": args.epochs, "seeds": args.seeds, "workers": args.workers, "dim": 100,
                     "window": 5, "negative": 5, "sample": 1e-3},
        "cells": cells,
        "every_ratio_at_least_1": all(min(c["ratios"]) >= 1.0 for c in cells.values()),
        "quality_within_bands": all(
            abs(c["delta"]["ws353"]) <= 0.02 and abs(c["delta"]["simlex999"]) <= 0.02
            and abs(c["delta"]["analogy"]) <= 0.01 for c in cells.values()),
        "quality_not_below_bands": all(
            c["delta"]["ws353"] >= -0.02 and c["delta"]["simlex999"] >= -0.02 and c["delta"]["analogy"] >= -0.01
            for c in cells.values()),
        "load_average_1min": load, "wall_s": time.perf_counter() - started,
    }
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        atomic_write(Path(args.out), lambda f: f.write(text), mode="w")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
