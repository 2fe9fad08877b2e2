"""Word vectors out and back in: word2vec formats through gensim, our benchmarks against gensim's
evaluators, the caption encoder, and ``multiview eval words``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from multiview.core.errors import UserError
from multiview.data.text.corpus import gensim_datapath
from multiview.data.text.word_vectors import load_word2vec, save_word2vec, to_keyed_vectors
from multiview.encoders.text import TextEncoder
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
        (r, _), (rho, _), oov = kv.evaluate_word_pairs(str(gensim_datapath(path)))
        assert ours[f"sim/{name}/spearman"] == pytest.approx(rho, abs=1e-9)
        assert ours[f"sim/{name}/pearson"] == pytest.approx(r, abs=1e-6)
        assert ours[f"sim/{name}/oov"] == pytest.approx(oov / 100)
    score, _ = kv.evaluate_word_analogies(str(gensim_datapath("questions-words.txt")))
    assert ours["analogy/accuracy"] == pytest.approx(score)
    assert 0 < ours["analogy/oov"] < 1


def mixed_case_analogies(tmp_path):
    """Vectors where another spelling of a, b or c (``Athens`` for ``athens``) lies nearer the
    offset b - a + c than the answer d does, plus random distractors and rarer words."""
    g = torch.Generator().manual_seed(0)
    quads = [[f"w{4 * q + i:02d}" for i in range(4)] for q in range(12)]
    quads[0][2] = "straße"  # upper-cases to STRASSE, like the distractor below; lower-casing would not
    vectors = {w: torch.randn(16, generator=g) for quad in quads for w in quad}
    duplicates = {}
    for n, (a, b, c, d) in enumerate(quads):
        target = F.normalize(vectors[b], dim=0) - F.normalize(vectors[a], dim=0) + F.normalize(vectors[c], dim=0)
        vectors[d] = target + 0.3 * torch.randn(16, generator=g)
        if n < 8:  # a spelling of a, b or c right on the offset: today's winner
            word = (a, b, c)[n % 3]
            spelling = "STRASSE" if word == "straße" else word.capitalize() if n % 2 else word.upper()
            duplicates[spelling] = target + 0.02 * torch.randn(16, generator=g)
    words = [w for quad in quads for w in quad]
    words = words[:20] + list(duplicates)[:4] + words[20:] + list(duplicates)[4:]  # some spellings more frequent
    words.insert(5, "W03")  # the more frequent spelling of w03 (an answer): it stands for w03
    vectors["W03"] = vectors["w03"] + 0.01 * torch.randn(16, generator=g)
    words += [f"x{i}" for i in range(30)]
    vectors.update({f"x{i}": torch.randn(16, generator=g) for i in range(30)})
    vectors.update(duplicates)
    lines = [": mixed-case"] + [" ".join(w.capitalize() if i == n % 4 else w for i, w in enumerate(q))
                                 for n, q in enumerate(quads)]
    (tmp_path / "questions.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return words, torch.stack([vectors[w] for w in words]), tmp_path / "questions.txt"


@pytest.mark.parametrize("restrict_vocab", [300000, 40])
def test_analogies_exclude_every_spelling_of_the_question_words(tmp_path, restrict_vocab):
    words, vectors, questions = mixed_case_analogies(tmp_path)
    kv = to_keyed_vectors(words, vectors)
    score, sections = kv.evaluate_word_analogies(str(questions), restrict_vocab=restrict_vocab)
    ours = word_eval.evaluate_vectors(words, vectors, word_sim_dir=None, questions=questions,
                                      restrict_vocab=restrict_vocab)
    assert ours["analogy/accuracy"] == pytest.approx(score)
    answered = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    assert ours["analogy/questions"] == answered and ours["analogy/oov"] == pytest.approx(1 - answered / 12)
    if restrict_vocab > len(words):
        assert score > 0.8  # the answers lie near the offsets, so gensim gets most of them


def test_word_similarity_pearson_matches_scipy():
    from scipy.stats import pearsonr, spearmanr

    g = torch.Generator().manual_seed(1)
    unit = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    index = {w: i for i, w in enumerate("ABCDEF")}
    pairs = [("A", "B", 3.0), ("C", "D", 1.0), ("E", "F", 7.5), ("A", "F", 2.0), ("B", "ZZZ", 1.0), ("C", "E", 9.0)]
    got = word_eval.word_similarity(index, unit, pairs)
    known = [p for p in pairs if p[1] != "ZZZ"]
    cos = [float(unit[index[a]] @ unit[index[b]]) for a, b, _ in known]
    gold = [s for *_, s in known]
    assert got["pearson"] == pytest.approx(pearsonr(gold, cos).statistic, abs=1e-6)
    assert got["spearman"] == pytest.approx(spearmanr(gold, cos).statistic)
    assert got["oov"] == pytest.approx(1 / 6) and got["pairs"] == 5


def test_eval_words_cli(tmp_path, gensim_lee_vectors, shared_data, capsys):
    words, vectors = gensim_lee_vectors
    path = save_word2vec(tmp_path / "v.bin", words, vectors)
    assert words_command.main(["--vectors", str(path), "--out", str(tmp_path / "m.json")]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics == json.loads((tmp_path / "m.json").read_text())
    sets = {p.stem.lower() for p in (shared_data / "text" / "word-sim").glob("*.txt")}
    assert {f"sim/{s}/oov" for s in sets} <= set(metrics)
    assert metrics["sim/en-ws-353-all/spearman"] == pytest.approx(metrics["sim/ws353/spearman"])
    assert metrics["headline"] == "sim/ws353/spearman"  # as the end-of-fit WordsReport declares
    run = tmp_path / "run"  # vectors inside a run folder: words.json is written there without --out
    run.mkdir()
    (run / "config.yaml").write_text("model: {}\n")
    assert words_command.main(["--vectors", str(save_word2vec(run / "vectors.bin", words, vectors))]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads((run / "eval" / "words" / "words.json").read_text())
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
