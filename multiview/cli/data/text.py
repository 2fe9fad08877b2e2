"""``multiview data text CORPUS``: prepare and encode a corpus once; print its figures as JSON.

``CORPUS`` is a bundled corpus or a plain-text file (:mod:`multiview.data.text.corpus`).
"""

from __future__ import annotations

import argparse
import json
import sys

from multiview.data.text.corpus import BUNDLED, TOKENIZERS, corpus_figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multiview data text", description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help=f"{', '.join(BUNDLED)}, or a plain-text file")
    parser.add_argument("--tokenizer", default="simple", choices=TOKENIZERS)
    parser.add_argument("--min-count", type=int, default=5, help="words seen fewer times are left out")
    parser.add_argument("--max-sentence-length", type=int, default=10000, help="longer sentences are cut")
    args = parser.parse_args(argv)
    figures = corpus_figures(args.corpus, args.tokenizer, args.min_count, args.max_sentence_length)
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
