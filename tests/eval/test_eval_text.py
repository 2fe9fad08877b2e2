"""Evaluating text encoders: labelled text, hand-designed baselines, and the reports end to end."""

import math

import lightning as L
import numpy as np
import pytest
import torch
import yaml

from multiview.cli.main import main as cli_main
from multiview.core.errors import UserError
from multiview.core.io import read_json
from multiview.data.text.corpus import TextCorpusDataModule
from multiview.data.text.text_labels import labelled_lines, word_kinds
from multiview.encoders.text import TextEncoder
from multiview.eval.core.baselines import supervised
from multiview.eval.core.features import extract
from multiview.eval.core.text_baselines import HashedBag, cooccurrence, ppmi, ppmi_svd
from multiview.eval.metrics.linear import linear_probe
from multiview.methods.word2vec import Word2Vec


def test_word_kinds_from_the_analogy_sections():
    data = word_kinds()
    kind = {t: data.classes[y] for t, y in zip(data.texts, data.labels)}
    assert len(kind) == len(data) and len(data.classes) == 19
    assert kind["athens"] == "capital" and kind["greece"] == "country" and kind["dinar"] == "currency"
    assert kind["bananas"] == "plural-noun" and kind["danced"] == "past-tense" and kind["queen"] == "female-relative"
    assert "georgia" not in kind  # a country (capital-world) and a US state (city-in-state)


def test_labelled_lines_both_formats_and_bad_lines(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("__label__neg so dull .\n__label__pos a delight\n\n")
    g = tmp_path / "b.tsv"
    g.write_text("so dull .\tneg\na delight\tpos\n")
    for data in (labelled_lines(f), labelled_lines(g)):
        assert data.texts == ["so dull .", "a delight"] and data.classes == ["neg", "pos"] and data.labels == [0, 1]
    g.write_text("so dull .\tneg\nno label here\n")
    with pytest.raises(UserError, match=r"b.tsv:2: expected"):
        labelled_lines(g)


def test_hashed_bag_units_and_counts():
    bag = HashedBag("char3", buckets=1 << 20)
    assert bag.units("Cat") == ["<ca", "cat", "at>"]
    f = HashedBag("word", buckets=1 << 20).features(["the cat the", ""])["pool"]
    assert sorted(f[0][f[0] > 0].tolist()) == pytest.approx([math.log(2), math.log(3)])
    assert f[1].abs().sum() == 0


def test_ppmi_against_the_formula():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 7, 60)
    ends = np.array([25, 60])
    window, cds = 3, 0.75
    counts = np.zeros((7, 7))
    for s, e in ((0, 25), (25, 60)):
        for i in range(s, e):
            for j in range(s, e):
                d = abs(i - j)
                if 0 < d <= window:
                    counts[ids[i], ids[j]] += (window - d + 1) / window
    c = cooccurrence(ids, ends, 7, window).toarray()
    np.testing.assert_allclose(c, counts)
    pc = counts.sum(0) ** cds / (counts.sum(0) ** cds).sum()
    with np.errstate(divide="ignore"):
        expected = np.maximum(0, np.log(counts / counts.sum() / np.outer(counts.sum(1) / counts.sum(), pc)))
    np.testing.assert_allclose(ppmi(cooccurrence(ids, ends, 7, window), cds).toarray(), expected, atol=1e-12)
    w = ppmi_svd(ids, ends, 7, dim=6, window=window)
    assert w.shape == (7, 6) and np.isfinite(w).all()


def test_supervised_text_baseline_learns_a_keyword():
    """The text supervised baseline trains the word table (hashed bag) with labels: sentences
    that hold 'good' vs 'bad' among filler words; its features then separate unseen sentences."""
    rng = np.random.default_rng(0)
    filler = [f"w{i}" for i in range(50)]

    def sentences(n):
        out = []
        for i in range(n):
            words = list(rng.choice(filler, 5)) + [("bad", "good")[i % 2]]
            rng.shuffle(words)
            out.append({"input": " ".join(words), "label": i % 2})
        return out

    train, test = sentences(120), sentences(60)
    encoder = TextEncoder(dim=16, buckets=512)
    trained = supervised(encoder, train, 2, "text", "keyword-test", epochs=40, lr=1e-2)
    feats = {name: extract(m, d, "pool") for name, m, d in
             (("train", trained, train), ("test", trained, test), ("train0", encoder, train), ("test0", encoder, test))}
    after = linear_probe(feats["train"]["pool"][:90], feats["train"]["label"][:90], feats["train"]["pool"][90:],
                         feats["train"]["label"][90:], feats["test"]["pool"], feats["test"]["label"])
    assert after["top1"] > 0.95


@pytest.fixture(scope="module")
def enwiki_run(tmp_path_factory):
    """A word2vec run folder: 5 epochs on gensim's Wikipedia extract, vectors exported (at 2 epochs
    neither gensim nor ours is past WS353 0.05 here; at 5 both reach about 0.22)."""
    run = tmp_path_factory.mktemp("w2v_run")
    init = {"dim": 50, "workers": 1, "seed": 0}
    data_args = {"corpus": "enwiki", "tokenizer": "whitespace", "min_count": 5, "batch_words": 32768}
    data = TextCorpusDataModule(**data_args)
    model = Word2Vec(**init)
    L.Trainer(max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, accelerator="cpu", default_root_dir=run).fit(model, datamodule=data)
    model.export(run)
    (run / "config.yaml").write_text(yaml.safe_dump({
        "model": {"class_path": "multiview.methods.word2vec.Word2Vec", "init_args": init},
        "data": {"class_path": "multiview.data.text.corpus.TextCorpusDataModule", "init_args": data_args}}))
    return run


@pytest.mark.slow
def test_word_kind_probe_and_knn_beat_random_init(enwiki_run, tmp_path, capsys):
    """Word vectors learned from 450k words of Wikipedia tell word kinds (capital, plural noun, ...)
    apart far better than the same table at random init, which cannot generalise to unseen words."""
    for kind, baselines, margin in (("probe", "random_init", 0.15), ("knn", "random_init,hand_designed", 0.08)):
        out = tmp_path / kind
        assert cli_main(["eval", kind, "--checkpoint", str(enwiki_run), "--data", "words",
                         "--baselines", baselines, "--out", str(out)]) == 0
        r = read_json(out / f"{kind}.json")
        assert r[f"{kind}/top1"] > r[f"{kind}/random_init/top1"] + margin, r
        assert r[f"{kind}/n_test"] > 80 and (out / f"{kind}.png").exists()
    assert {f"knn/{n}/top1" for n in ("bag_of_words", "char_trigrams", "ppmi_svd")} <= set(r)
    assert "have no word in the encoder's vocabulary" in capsys.readouterr().out


def test_words_eval_with_baselines(enwiki_run, tmp_path, capsys):
    out = tmp_path / "words.json"
    assert cli_main(["eval", "words", "--vectors", str(enwiki_run / "vectors.bin"), "--word-sim", str(tmp_path),
                     "--baselines", "random_init,ppmi_svd", "--out", str(out)]) == 0
    r = read_json(out)
    assert abs(r["baseline/random_init/sim/ws353/spearman"]) < 0.1
    assert r["sim/ws353/spearman"] > r["baseline/random_init/sim/ws353/spearman"] + 0.05
    assert r["baseline/ppmi_svd/sim/ws353/spearman"] > 0.3  # count-based vectors are strong on small corpora
    capsys.readouterr()
    assert cli_main(["eval", "words", "--vectors", str(enwiki_run / "vectors.bin"), "--baselines", "gabor"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--baselines 'gabor'" in err[0] and "random_init,ppmi_svd" in err[0]


def test_text_encoder_loads_from_a_vectors_file(enwiki_run):
    from multiview.eval.core.checkpoint import load_encoder

    encoder, modality = load_encoder(enwiki_run / "vectors.bin")
    assert modality == "text" and encoder.out_dim == 50
    z = encoder.features(["the city", "qqqzzz"])["pool"]
    assert z.shape == (2, 50) and z[1].abs().sum() == 0 and z[0].abs().sum() > 0
    assert torch.equal(load_encoder(enwiki_run)[0].bag.weight, encoder.bag.weight)
