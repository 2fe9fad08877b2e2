"""The word2vec recipe through ``multiview fit`` and its vectors through ``multiview eval words``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_text_recipe_runs_and_exports(tmp_path, capsys):
    from gensim.models import KeyedVectors

    from multiview.cli.main import main
    from multiview.data.text.corpus import gensim_datapath

    corpus = tmp_path / "corpus.txt.gz"
    corpus.write_bytes(gzip.compress(gensim_datapath("lee_background.cor").read_bytes()))
    run = tmp_path / "run"
    code = main(["fit", "--config", str(REPO / "recipes" / "word2vec_text.yaml"),
                 "--data.corpus", str(corpus), "--trainer.default_root_dir", str(run),
                 "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false", "--model.dim", "32"])
    assert code in (0, None)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["sim/ws353/pairs"] > 50 and 0 < metrics["analogy/oov"] < 1
    kv = KeyedVectors.load_word2vec_format(str(run / "vectors.bin"), binary=True)
    assert kv.vector_size == 32 and kv.index_to_key[0] == "the"
    text = KeyedVectors.load_word2vec_format(str(run / "vectors.txt"))
    assert (text.vectors == kv.vectors).all()
    capsys.readouterr()
    assert main(["eval", "words", "--vectors", str(run / "vectors.txt")]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["sim/ws353/spearman"] == pytest.approx(metrics["sim/ws353/spearman"])


def test_missing_corpus_is_one_line(tmp_path, capsys):
    from multiview.cli.main import main

    code = main(["fit", "--config", str(REPO / "recipes" / "word2vec_text.yaml"),
                 "--data.corpus", str(tmp_path / "nope.txt"),
                 "--trainer.default_root_dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "nope.txt" in err and "no such file" in err


def test_data_text_command(capsys):
    from collections import Counter

    from multiview.cli.main import main
    from multiview.data.text.corpus import gensim_datapath

    assert main(["data", "text", "lee", "--tokenizer", "whitespace"]) == 0
    figures = json.loads(capsys.readouterr().out)
    counts = Counter(gensim_datapath("lee_background.cor").read_text().split())
    assert figures["tokens"] == sum(counts.values())
    assert figures["vocabulary"] == sum(c >= 5 for c in counts.values())
    assert figures["in_vocabulary_tokens"] < figures["tokens"] and list(figures["top_words"])[0] == "the"
