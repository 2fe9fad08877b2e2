"""Word vectors out and back in: word2vec formats through gensim, our benchmarks against gensim's
evaluators, the caption encoder, and ``multiview eval words``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from multiview.data.text.corpus import gensim_datapath
from multiview.data.text.word_vectors import load_word2vec, save_word2vec, to_keyed_vectors
from multiview.encoders.text import TextEncoder
from multiview.errors import UserError
from multiview.eval.commands import words as words_command
from multiview.eval.metrics import words as word_eval


@pytest.fixture(scope="module")
def gensim_lee_vectors():
    """Real vectors: gensim's skip-gram on the Lee corpus (its own model, as a fixed reference)."""
    from gensim.models import Word2Vec
    from gensim.utils import simple_preprocess

    sentences = [simple_preprocess(line) for line in open(gensim_datapath("lee_background.cor"))]
    model = Word2Vec(sentences, vector_size=32, min_count=2, sg=1, epochs=5, workers=1, seed=0)
    return list(model.wv.index_to_key), torch.from_numpy(model.wv.vectors.copy())


@pytest.mark.parametrize("suffix", [".bin", ".txt"])
def test_export_loads_back_in_gensim_identically(tmp_path, gensim_lee_vectors, suffix):
    from gensim.models import KeyedVectors

    words, vectors = gensim_lee_vectors
    path = save_word2vec(tmp_path / f"vectors{suffix}", words, vectors)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=suffix == ".bin")
    assert list(kv.index_to_key) == words
    assert np.array_equal(kv.vectors, vectors.numpy())
    back_words, back = load_word2vec(path)
    assert back_words == words and torch.equal(back, vectors)
    kv2 = to_keyed_vectors(words, vectors, counts=np.arange(len(words))[::-1])
    assert np.array_equal(kv2["the"], vectors[words.index("the")].numpy())
    assert kv2.get_vecattr(words[0], "count") == len(words) - 1


def test_benchmarks_match_gensim_evaluators(gensim_lee_vectors):
    words, vectors = gensim_lee_vectors
    kv = to_keyed_vectors(words, vectors)
    ours = word_eval.evaluate_vectors(words, vectors, word_sim_dir=None)
    for name, path in (("ws353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        _, (rho, _), oov = kv.evaluate_word_pairs(str(gensim_datapath(path)))
        assert ours[f"sim/{name}/spearman"] == pytest.approx(rho, abs=1e-9)
        assert ours[f"sim/{name}/oov"] == pytest.approx(oov / 100)
    score, _ = kv.evaluate_word_analogies(str(gensim_datapath("questions-words.txt")))
    assert ours["analogy/accuracy"] == pytest.approx(score)
    assert 0 < ours["analogy/oov"] < 1


def test_eval_words_cli(tmp_path, gensim_lee_vectors, shared_data, capsys):
    words, vectors = gensim_lee_vectors
    path = save_word2vec(tmp_path / "v.bin", words, vectors)
    assert words_command.main(["--vectors", str(path), "--out", str(tmp_path / "m.json")]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics == json.loads((tmp_path / "m.json").read_text())
    sets = {p.stem.lower() for p in (shared_data / "text" / "word-sim").glob("*.txt")}
    assert {f"sim/{s}/oov" for s in sets} <= set(metrics)
    assert metrics["sim/en-ws-353-all/spearman"] == pytest.approx(metrics["sim/ws353/spearman"])
    with pytest.raises(UserError, match="no such file"):
        words_command.main(["--vectors", str(tmp_path / "none.bin")])
    (tmp_path / "bad.txt").write_text("not a header\nx 1 2\n")
    with pytest.raises(UserError, match="bad.txt"):
        words_command.main(["--vectors", str(tmp_path / "bad.txt")])


def test_caption_encoder_is_mean_of_word_vectors(tmp_path, gensim_lee_vectors):
    words, vectors = gensim_lee_vectors
    path = save_word2vec(tmp_path / "v.txt", words, vectors)
    enc = TextEncoder(vectors=str(path))
    out = enc(["The police, the POLICE!", "zzzunknownzzz", "", "police attacks"])
    row = {w: vectors[i] for i, w in enumerate(words)}
    assert out.shape == (4, enc.out_dim) == (4, 32)
    torch.testing.assert_close(out[0], (2 * row["the"] + 2 * row["police"]) / 4)
    assert torch.equal(out[1], torch.zeros(32)) and torch.equal(out[2], torch.zeros(32))
    torch.testing.assert_close(out[3], (row["police"] + row["attacks"]) / 2)
    assert not enc.bag.weight.requires_grad


def test_hashed_caption_encoder_learns():
    enc = TextEncoder(dim=16, buckets=1024)
    target = torch.randn(2, 16)
    opt = torch.optim.SGD(enc.parameters(), lr=0.2)
    first = None
    for _ in range(50):
        loss = ((enc(["a red car", "a dog barks"]) - target) ** 2).sum()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first
    torch.testing.assert_close(enc(["car red a"]), enc(["a red car"]))
