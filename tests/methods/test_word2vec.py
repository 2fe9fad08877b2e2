"""word2vec: the sampling details against their formulas, the update against autograd, a learned
model against random vectors on real text (gensim's Lee corpus), reproducibility."""

from __future__ import annotations

import tempfile

import lightning as L
import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from multiview.data.text.corpus import (
    TextCorpusDataModule,
    Vocab,
    encode_corpus,
    iter_sentences,
    keep_probabilities,
    resolve_corpus,
)
from multiview.methods.word2vec import Word2Vec, split_sentences
from multiview.objectives.cbow import cbow_loss, cbow_update
from multiview.objectives.skipgram import (
    AliasSampler,
    pair_weights,
    reduced_windows,
    sgns_loss,
    sgns_update,
    subsample,
    window_bounds,
    window_contexts,
)
from multiview.objectives.word2vec_cpu import draw_negatives


@pytest.fixture(scope="module")
def lee():
    return encode_corpus("lee", tokenizer="whitespace", min_count=5)


def test_vocab_matches_gensim(lee):
    from gensim.models import Word2Vec as GensimWord2Vec

    sentences = list(iter_sentences(resolve_corpus("lee"), "whitespace"))
    model = GensimWord2Vec(min_count=5, sample=1e-3)
    model.build_vocab(sentences)
    assert lee.vocab.words == list(model.wv.index_to_key)
    assert lee.vocab.counts.tolist() == [model.wv.get_vecattr(w, "count") for w in lee.vocab.words]
    # gensim stores word2vec.c's keep probability as an integer threshold out of 2**32
    ours = keep_probabilities(lee.vocab.counts, 1e-3)
    theirs = np.array([model.wv.get_vecattr(w, "sample_int") for w in lee.vocab.words]) / 2**32
    np.testing.assert_allclose(ours, theirs, atol=1e-8)
    assert lee.ids.shape[0] == lee.vocab.counts.sum() and lee.ends[-1] == lee.ids.shape[0]


def test_keep_probability_formula_and_draws():
    counts = np.array([50000, 5000, 500, 50, 5])
    sample = 1e-3
    t = sample * counts.sum()
    expected = [min(1.0, (np.sqrt(c / t) + 1) * t / c) for c in counts]
    np.testing.assert_allclose(keep_probabilities(counts, sample), expected)
    assert keep_probabilities(counts, 0).tolist() == [1.0] * 5
    ids = torch.arange(5).repeat_interleave(40000)
    kept = subsample(ids, torch.tensor(expected), torch.Generator().manual_seed(0))
    rate = kept.view(5, -1).float().mean(1)
    assert torch.allclose(rate, torch.tensor(expected, dtype=torch.float32), atol=4 * 0.5 / 200)


@pytest.mark.parametrize("compiled", [False, True])
def test_negatives_follow_unigram_power(lee, compiled):
    """The tensor sampler (accelerator path) and the CPU loop's own draws (word2vec.c's generator
    through the same alias table) follow counts^0.75, not the counts."""
    counts = lee.vocab.counts
    sampler = AliasSampler(counts, 0.75)
    if compiled:
        tables = sampler.accept.numpy(), sampler.alias.numpy()
        draws = draw_negatives(*tables, 12345, 400000)
        assert (draw_negatives(*tables, 54321, 1000) != draws[:1000]).mean() > 0.9  # seeds differ
    else:
        draws = sampler.sample((400000,), torch.Generator().manual_seed(0)).numpy()
    observed = np.bincount(draws, minlength=len(counts))
    p = counts**0.75 / (counts**0.75).sum()
    # pool the rare words into bins so that every expected count is large
    bins = np.minimum(np.arange(len(counts)), 200)
    obs = np.bincount(bins, observed)
    assert chisquare(obs, np.bincount(bins, p * len(draws))).pvalue > 1e-3
    plain = counts / counts.sum()
    assert chisquare(obs, np.bincount(bins, plain * len(draws))).pvalue < 1e-6


def test_dynamic_window_distribution():
    effective = reduced_windows(60000, 5, torch.Generator().manual_seed(0))
    observed = torch.bincount(effective, minlength=6)[1:].tolist()
    assert chisquare(observed).pvalue > 1e-3  # e = window - b, b uniform in [0, window)
    assert int(effective.min()) == 1 and int(effective.max()) == 5


def _slow_windows(lengths, effective):
    """gensim's loop (word2vec_inner.pyx): j from max(i - e, start) to min(i + e + 1, end), j != i."""
    pairs, start = set(), 0
    for n in lengths:
        for i in range(start, start + n):
            e = int(effective[i])
            pairs |= {(i, j) for j in range(max(i - e, start), min(i + e + 1, start + n)) if j != i}
        start += n
    return pairs


def test_windows_stop_at_line_ends_as_gensim():
    """Short lines, one-word lines and long lines: the packed windows hold exactly gensim's pairs."""
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([1, 2, 3, 1, 8, 5, 1, 1, 40, 4, 2, 13])
    sentence = torch.repeat_interleave(torch.arange(lengths.numel()), lengths)
    effective = reduced_windows(sentence.numel(), 5, g)
    groups = window_contexts(sentence, effective)
    got = [(int(c), int(j)) for centers, contexts in groups for c, row in zip(centers, contexts) for j in row]
    assert len(got) == len(set(got)) and set(got) == _slow_windows(lengths.tolist(), effective)
    sizes = [contexts.shape[1] for _, contexts in groups]  # one group per context count, no padding
    assert sizes == sorted(set(sizes)) and sizes[0] >= 1
    lo, hi = window_bounds(sentence, effective)
    assert int((hi - lo).sum()) == len(got)
    assert window_contexts(sentence[:0], effective[:0]) == []


def _slow_loss(syn0, syn1, contexts, outputs, weights):
    total = 0.0
    for w in range(contexts.shape[0]):
        for g in range(contexts.shape[1]):
            v = syn0[contexts[w, g]]
            for k in range(outputs.shape[1]):
                score = float(v @ syn1[outputs[w, k]])
                label = 1.0 if k == 0 else 0.0
                p = 1 / (1 + np.exp(-score))
                total -= float(weights[w, g, k]) * np.log(p if label else 1 - p)
    return total


def _random_batch():
    """Float64 vectors for 30 words, 7 windows of 4 contexts, 3 negatives, one equal to its center."""
    g = torch.Generator().manual_seed(0)
    syn0 = torch.randn(30, 8, generator=g, dtype=torch.float64) * 0.3
    syn1 = torch.randn(30, 8, generator=g, dtype=torch.float64) * 0.3
    centers = torch.randint(0, 30, (7,), generator=g)
    contexts = torch.randint(0, 30, (7, 4), generator=g)
    negatives = torch.randint(0, 30, (7, 3), generator=g)
    negatives[0, 1] = centers[0]  # a draw equal to its center is skipped
    outputs, out_ok = pair_weights(centers, negatives)
    assert out_ok[0, 2] == 0 and out_ok[:, 0].all()
    return g, syn0, syn1, contexts, outputs, out_ok.double()


def test_update_is_sgd_on_the_loss():
    g, syn0, syn1, contexts, outputs, out_ok = _random_batch()
    valid = torch.rand(7, 4, generator=g) > 0.2
    weights = valid[:, :, None] * out_ok[:, None, :]
    loss = sgns_loss(syn0, syn1, contexts, outputs, weights)
    assert loss.item() == pytest.approx(_slow_loss(syn0, syn1, contexts, outputs, weights), rel=1e-9)
    a, b = syn0.clone().requires_grad_(), syn1.clone().requires_grad_()
    sgns_loss(a, b, contexts, outputs, weights).backward()
    sgns_update(syn0, syn1, contexts, outputs, weights, alpha=0.1)
    torch.testing.assert_close(syn0, a.detach() - 0.1 * a.grad)
    torch.testing.assert_close(syn1, b.detach() - 0.1 * b.grad)


def test_cbow_loss_and_update_against_references():
    _, syn0, syn1, contexts, outputs, weights = _random_batch()
    slow = 0.0
    for w in range(7):
        hidden = syn0[contexts[w]].numpy().mean(0)  # Mikolov et al. 2013a, cbow_mean=1
        for k in range(4):
            p = 1 / (1 + np.exp(-(hidden @ syn1[outputs[w, k]].numpy())))
            slow -= float(weights[w, k]) * np.log(p if k == 0 else 1 - p)
    assert cbow_loss(syn0, syn1, contexts, outputs, weights).item() == pytest.approx(slow, rel=1e-9)
    a, b = syn0.clone().requires_grad_(), syn1.clone().requires_grad_()
    cbow_loss(a, b, contexts, outputs, weights).backward()
    loss = cbow_update(syn0, syn1, contexts, outputs, weights, alpha=0.1, with_loss=True)
    assert loss == pytest.approx(slow, rel=1e-9)
    # word2vec.c and gensim step each context row along dL/dh: G = 4 times its gradient
    torch.testing.assert_close(syn0, a.detach() - 0.1 * 4 * a.grad)
    torch.testing.assert_close(syn1, b.detach() - 0.1 * b.grad)


def test_split_sentences_keeps_whole_sentences():
    lengths = torch.tensor([3, 9, 1, 4, 7, 2])
    ids = torch.arange(int(lengths.sum()))
    parts = split_sentences(ids, lengths, 2)
    assert len(parts) == 2
    assert torch.equal(torch.cat([p for p, _ in parts]), ids)
    assert torch.equal(torch.cat([n for _, n in parts]), lengths)
    assert all(int(n.sum()) == p.numel() for p, n in parts)


def _fit(seed: int, epochs: int = 2, workers: int = 1, **kw) -> Word2Vec:
    data = TextCorpusDataModule(corpus="lee", tokenizer="simple", min_count=5, batch_words=8192)
    model = Word2Vec(dim=50, seed=seed, workers=workers, **kw)
    trainer = L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                        default_root_dir=tempfile.mkdtemp(prefix="w2v-"))
    trainer.fit(model, datamodule=data)
    return model


def test_same_seed_same_vectors(lee):
    a, b, c = _fit(0, epochs=1), _fit(0, epochs=1), _fit(1, epochs=1)
    assert torch.equal(a.vectors(), b.vectors())
    assert not torch.equal(a.vectors(), c.vectors())
    assert a.current_alpha() == pytest.approx(0.0001, rel=0.05)  # decayed linearly to min_alpha


def test_threaded_chunks_finish_before_checkpoint_and_export(lee, tmp_path):
    """With worker threads a chunk is still training when the step returns; every chunk must have
    finished before a checkpoint is written and before the vectors are read."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    data = TextCorpusDataModule(corpus="lee", tokenizer="simple", min_count=5, batch_words=4096)
    model = Word2Vec(dim=32, seed=0, workers=2)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        accelerator="cpu", default_root_dir=tmp_path,
                        callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True)])
    trainer.fit(model, datamodule=data)
    assert not model.pending and model.chunks_submitted == sum(1 for _ in data.train_dataloader()) > 1
    assert {"train/loss", "train/alpha", "train/pairs"} <= set(trainer.callback_metrics)  # the base's log_figures
    ckpt = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert ckpt["word2vec"]["words_done"] == int(data.corpus.ids.shape[0])
    assert torch.equal(ckpt["state_dict"]["syn0"], model.vectors())
    untrained = Word2Vec(dim=32, seed=0)
    untrained.build(model.words, model.counts)
    assert (model.vectors() - untrained.vectors()).abs().max() > 0.05


def _rank(kv, query: str, expected: str) -> int:
    return [w for w, _ in kv.most_similar(query, topn=len(kv))].index(expected)


@pytest.mark.slow
def test_learns_related_words_on_lee():
    """gensim's calibrated check (test_word2vec.model_sanity): after skip-gram with 15 negatives,
    window 4, 10 epochs on the Lee corpus, 'bombings' ranks in the top 50 neighbours of
    'attacks'. Baseline: the model before training (random vectors, 10 seeds)."""
    model = _fit(0, epochs=10, workers=2, window=4, negative=15)
    kv = model.keyed_vectors()
    assert _rank(kv, "attacks", "bombings") < 50
    chance = []
    for seed in range(10):
        untrained = Word2Vec(dim=50, seed=seed)
        untrained.build(model.words, model.counts)
        chance.append(_rank(untrained.keyed_vectors(), "attacks", "bombings"))
    assert np.mean(chance) > 400  # about len(vocab) / 2
    assert kv.similarity("israeli", "palestinian") > kv.similarity("israeli", "cricket")


def test_bad_corpus_is_one_clear_line(tmp_path):
    from multiview.core.errors import UserError

    with pytest.raises(UserError, match="no such file"):
        resolve_corpus(str(tmp_path / "missing.txt"))
    (tmp_path / "tiny.txt").write_text("one two three\n")
    with pytest.raises(UserError, match="min_count=5"):
        encode_corpus(str(tmp_path / "tiny.txt"))
    assert Vocab.build([["a", "b", "a"]], min_count=2).words == ["a"]
