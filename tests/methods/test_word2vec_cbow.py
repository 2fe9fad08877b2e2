"""The compiled CPU update against gensim's loop written out in Python; CBOW and short lines
learning on real text (gensim's Lee corpus)."""

from __future__ import annotations

import tempfile

import lightning as L
import numpy as np
import pytest
import torch

from multiview.data.text.corpus import TextCorpusDataModule, iter_sentences, resolve_corpus
from multiview.methods.word2vec import Word2Vec
from multiview.objectives.skipgram import (
    AliasSampler,
    reduced_windows,
    subsample,
    window_bounds,
)
from multiview.objectives.word2vec_cpu import draw_negatives, train_windows, visiting_order


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _slow_train(syn0, syn1, ids, lo, hi, stream, k, alpha, skipgram, order):
    """gensim's fast_sentence_sg_neg / fast_sentence_cbow_neg (cbow_mean=1: the mean of the
    contexts predicts, every context row takes the whole step), window by window in ``order``,
    the next ``k`` draws of ``stream`` per pair (skip-gram) or per window (CBOW); float64, exact
    sigmoid."""
    pairs, stream = 0, iter(stream)
    for i in order:
        contexts = [j for j in range(lo[i], hi[i] + 1) if j != i]
        pairs += len(contexts)
        inputs = [[ids[j]] for j in contexts] if skipgram else ([[ids[j] for j in contexts]] if contexts else [])
        for rows in inputs:
            negatives = [next(stream) for _ in range(k)]
            outputs = [(ids[i], 1.0)] + [(n, 0.0) for n in negatives if n != ids[i]]
            hidden = syn0[rows].mean(0)
            grad = np.zeros_like(hidden)
            for target, label in outputs:
                g = alpha * (label - _sigmoid(hidden @ syn1[target]))
                grad += g * syn1[target]
                syn1[target] += g * hidden
            for row in rows:
                syn0[row] += grad
    return pairs


@pytest.mark.parametrize("n", [1, 4, 5, 21, 22])
def test_the_visiting_order_takes_each_segment_in_turn(n):
    segment = -(-n // 4)
    expected = [m * segment + t for t in range(segment) for m in range(4) if m * segment + t < n]
    assert visiting_order(n, 4).tolist() == expected
    assert sorted(expected) == list(range(n))
    assert visiting_order(n, 1).tolist() == list(range(n))


@pytest.mark.parametrize("streams", [1, 4])
@pytest.mark.parametrize("skipgram", [True, False])
def test_cpu_update_is_gensims_loop(skipgram, streams):
    g = torch.Generator().manual_seed(1)
    vocab, dim = 12, 16  # a small vocabulary: rows repeat within and across windows
    lengths = torch.tensor([1, 3, 9, 2, 1, 6])
    sentence = torch.repeat_interleave(torch.arange(lengths.numel()), lengths)
    ids = torch.randint(0, vocab, (sentence.numel(),), generator=g)
    lo, hi = window_bounds(sentence, reduced_windows(ids.numel(), 3, g))
    sampler = AliasSampler(torch.randint(1, 50, (vocab,), generator=g).numpy())
    tables = sampler.accept.numpy(), sampler.alias.numpy()
    stream = draw_negatives(*tables, 7, 4 * int((hi - lo).sum()))
    assert np.isin(ids.numpy(), stream).any()  # some draws equal their center and are skipped
    syn0 = (torch.randn(vocab, dim, generator=g) * 0.5).numpy()
    syn1 = (torch.randn(vocab, dim, generator=g) * 0.5).numpy()
    ref0, ref1, start = syn0.astype(np.float64), syn1.astype(np.float64), syn0.copy()
    arrays = [a.numpy() for a in (ids, lo, hi)]
    order = visiting_order(len(ids), streams)  # checked against its definition above
    expected = _slow_train(ref0, ref1, *arrays, stream, 4, 0.1, skipgram, order)
    loss, pairs = train_windows(syn0, syn1, *arrays, *tables, 7, 4, 0.1, skipgram, streams)
    assert pairs == expected == int((hi - lo).sum())
    assert np.isfinite(loss) and loss > 0
    np.testing.assert_allclose(syn0, ref0, atol=1e-5)
    np.testing.assert_allclose(syn1, ref1, atol=1e-5)
    assert np.abs(syn0 - start).max() > 0.01


def _rank(kv, query: str, expected: str) -> int:
    return [w for w, _ in kv.most_similar(query, topn=len(kv))].index(expected)


def _fit(corpus, epochs, **kw) -> Word2Vec:
    data = TextCorpusDataModule(corpus=corpus, tokenizer="simple", min_count=5, batch_words=8192)
    model = Word2Vec(dim=50, seed=0, workers=2, **kw)
    trainer = L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                        default_root_dir=tempfile.mkdtemp(prefix="w2v-"))
    trainer.fit(model, datamodule=data)
    return model


def _chance_rank(model: Word2Vec) -> float:
    ranks = []
    for seed in range(5):
        untrained = Word2Vec(dim=50, seed=seed)
        untrained.build(model.words, model.counts)
        ranks.append(_rank(untrained.keyed_vectors(), "attacks", "bombings"))
    return float(np.mean(ranks))


@pytest.mark.slow
def test_cbow_learns_related_words_on_lee():
    """gensim's calibrated check for CBOW (test_word2vec.test_cbow_neg: sg=0, cbow_mean=1,
    alpha 0.05, negative 15, 10 epochs, sample 0): 'bombings' in the top 50 neighbours of
    'attacks'. Baseline: the untrained vectors (5 seeds), near len(vocab) / 2."""
    model = _fit("lee", 10, sg=False, alpha=0.05, negative=15, sample=0.0)
    assert _rank(model.keyed_vectors(), "attacks", "bombings") < 50
    assert _chance_rank(model) > 400


@pytest.mark.slow
def test_skipgram_learns_on_short_lines(tmp_path):
    """The Lee corpus cut into lines of 1-6 words (captions, titles): windows stop at each line,
    so a short-line corpus trains like any other. Same calibrated check, same baseline."""
    rng = np.random.default_rng(0)
    lines = []
    for tokens in iter_sentences(resolve_corpus("lee"), "simple"):
        at = 0
        while at < len(tokens):
            n = int(rng.integers(1, 7))
            lines.append(" ".join(tokens[at : at + n]))
            at += n
    path = tmp_path / "short.txt"
    path.write_text("\n".join(lines) + "\n")
    model = _fit(str(path), 10, window=4, negative=15)
    assert model.trainer.datamodule.corpus.ends.shape[0] > 10000  # really short lines
    assert _rank(model.keyed_vectors(), "attacks", "bombings") < 50
    assert _chance_rank(model) > 400


@pytest.mark.parametrize("sg", [True, False])
def test_accelerator_path_matches_the_cpu_loop_on_one_part(sg):
    """The batched path (run on an accelerator; here on CPU tensors) and the compiled loop see
    the same windows, so the same pair count, and at initialisation (output vectors at zero,
    every score 0) the same loss per prediction, (1 + K) log 2."""
    data = TextCorpusDataModule(corpus="lee", tokenizer="simple", min_count=5)
    data.setup()
    ids, lengths = next(iter(data.corpus.chunks(4096)))
    ids, lengths = torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(lengths)
    loop, batched = (Word2Vec(dim=16, sg=sg, negative=5) for _ in range(2))
    for model in (loop, batched):
        model.build(data.vocab.words, data.vocab.counts)
        model.keep_prob.fill_(1.0)  # keep every word
    start = loop.syn0.clone()
    loss_loop, pairs_loop = loop._train_part(ids, lengths, torch.Generator().manual_seed(3), 0.001)
    g = torch.Generator().manual_seed(3)  # the same draws in the same order as _train_part
    assert subsample(ids, batched.keep_prob, g).all()
    effective = reduced_windows(ids.numel(), 5, g)
    negatives = batched.negatives.sample((ids.numel(), 5), g)
    sentence = torch.repeat_interleave(torch.arange(lengths.numel()), lengths)
    loss_batched, pairs_batched = batched._train_batched(ids, sentence, negatives, effective, 0.001)
    assert pairs_loop == pairs_batched > 0
    assert loss_loop == pytest.approx(6 * np.log(2), rel=0.05)
    assert loss_batched == pytest.approx(6 * np.log(2), rel=0.05)
    for model in (loop, batched):
        assert (model.syn0 - start).abs().max() > 0
