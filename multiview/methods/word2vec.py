"""word2vec with negative sampling (Mikolov et al. 2013): skip-gram (``sg: true``) or CBOW with
the mean of the context vectors (``sg: false``, gensim's ``sg=0, cbow_mean=1``), trained with
manual SGD.

The details follow word2vec.c and gensim: vocabulary with ``min_count`` (the data module),
frequent-word subsampling, dynamic window, negatives from the unigram^0.75 distribution, input
vectors initialised uniform in [-0.5/D, 0.5/D) and output vectors at zero, and a learning rate
decaying linearly from ``alpha`` to ``min_alpha`` over all epochs' words.

Each training step takes a chunk of whole sentences. On CPU the chunk is cut into parts that
``workers`` threads train at once on the shared vectors (Hogwild, Recht et al. 2011, as
word2vec.c's threads do; results then vary run to run, as gensim's do with workers > 1; use
``workers: 1`` for bit-identical reruns). A part is subsampled, windowed (clipped at line ends,
as gensim) in a few vectorized ops over the whole part. On CPU a compiled loop then trains its
windows one by one, as word2vec.c (four stretches of the part in turn), drawing gensim's
negatives as it goes, only for the pairs that exist (:mod:`multiview.objectives.word2vec_cpu`:
per-row tensor ops cost more than the rows on short windows); on an accelerator the windows,
packed by context count so that short lines cost no padding, share one set of negatives per
window (Ji et al. 2016) and are updated in batches of about ``batch_pairs`` (context, center)
pairs: batched matrix products and sparse row updates, no autograd, no optimizer (in a batch
every row's gradients are summed from the same stale values: 6144 pairs scored as gensim on its
Wikipedia extract; at 16384 frequent words' rows diverge). The threads work on one chunk while the
trainer loop fetches the next. ``benchmarks/word2vec_matrix.py`` compares speed and quality
with gensim's on short lines, long lines and a large vocabulary.

After ``fit`` the vectors are written to the run folder as ``vectors.bin`` and ``vectors.txt``
(word2vec formats, gensim-loadable); the word benchmarks are a report callback
(``multiview.eval.reports.WordsReport``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from multiview.core.errors import UserError
from multiview.data.text.corpus import keep_probabilities
from multiview.data.text.word_vectors import save_word2vec, to_keyed_vectors
from multiview.encoders.text import TextEncoder
from multiview.methods.base import Method
from multiview.objectives.cbow import cbow_update
from multiview.objectives.skipgram import (
    AliasSampler,
    initial_vectors,
    pair_weights,
    reduced_windows,
    sgns_update,
    subsample,
    window_bounds,
    window_contexts,
)


def split_sentences(ids: torch.Tensor, lengths: torch.Tensor, parts: int):
    """Cut a chunk into up to ``parts`` pieces of whole sentences with about equal word counts."""
    if parts <= 1 or lengths.numel() < 2:
        return [(ids, lengths)]
    ends = torch.cumsum(lengths, 0)
    targets = torch.arange(1, parts, device=ends.device) * (ends[-1] / parts)
    cuts = torch.unique(torch.searchsorted(ends, targets).clamp_(max=lengths.numel() - 1))
    bounds = [0] + [int(c) + 1 for c in cuts if int(c) + 1 < lengths.numel()] + [lengths.numel()]
    bounds = sorted(set(bounds))
    starts = torch.cat([ends.new_zeros(1), ends])
    return [
        (ids[int(starts[a]) : int(starts[b])], lengths[a:b]) for a, b in zip(bounds[:-1], bounds[1:])
    ]


class Word2Vec(Method):
    """Skip-gram or CBOW, negative sampling. Needs a data module with ``.vocab``
    (``TextCorpusDataModule``).

    Args:
        dim: vector size.
        window: largest window; each position draws its own in [1, window].
        negative: negatives per (context, center) pair in skip-gram, per window in CBOW (on an
            accelerator: per window in both).
        sample: subsampling threshold (0 keeps every word).
        alpha: initial learning rate, decaying linearly to ``min_alpha``.
        min_alpha: final learning rate.
        ns_exponent: power of the counts for the negative distribution.
        seed: seed of the initial vectors and of every draw.
        workers: CPU threads (Hogwild).
        batch_pairs: about this many (context, center) pairs per batched update.
        sg: skip-gram (True) or CBOW with the mean of the contexts (False), as gensim's ``sg``.
    """

    def __init__(
        self,
        dim: int = 100,
        window: int = 5,
        negative: int = 5,
        sample: float = 1e-3,
        alpha: float = 0.025,
        min_alpha: float = 0.0001,
        ns_exponent: float = 0.75,
        seed: int = 0,
        workers: int = 2,
        batch_pairs: int = 6144,
        sg: bool = True,
    ):
        super().__init__(lr=alpha, weight_decay=0.0, optimizer="sgd", warmup_fraction=0.0)
        for name, value in (("dim", dim), ("window", window), ("negative", negative)):
            if value < 1:
                raise UserError(f"model.{name}: expected an integer >= 1, got {value}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.dim, self.window, self.negative, self.sample = dim, window, negative, sample
        self.alpha, self.min_alpha, self.ns_exponent = alpha, min_alpha, ns_exponent
        self.seed, self.workers = seed, workers
        self.sg = sg
        self.update = sgns_update if sg else cbow_update
        self.pool: ThreadPoolExecutor | None = None
        self.pending: list = []
        self.chunks_submitted = 0
        self.batch_pairs = batch_pairs
        self.words: list[str] = []
        self.words_done = 0
        self.total_words = 1

    def build(self, words: list[str], counts) -> None:
        """Allocate vectors for a vocabulary (sorted by count) and the sampling tables."""
        generator = torch.Generator().manual_seed(self.seed)
        self.words = list(words)
        syn0 = initial_vectors(len(words), self.dim, generator)
        self.register_buffer("syn0", syn0.to(self.device))
        self.register_buffer("syn1", torch.zeros(len(words), self.dim, device=self.device))
        keep = torch.as_tensor(keep_probabilities(counts, self.sample))
        self.register_buffer("keep_prob", keep.to(self.device))
        self.negatives = AliasSampler(counts, self.ns_exponent).to(self.device)
        self.counts = counts

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        if not self.words:
            vocab = datamodule.vocab
            self.build(vocab.words, vocab.counts)
        self.total_words = max(1, int(datamodule.corpus.ids.shape[0]) * int(self.trainer.max_epochs or 1))

    def configure_optimizers(self):
        return None

    def on_fit_start(self) -> None:
        self.negatives.to(self.device)
        self.parts = 1 if self.workers == 1 or self.device.type != "cpu" else 2 * self.workers
        # two chunks are in flight at once (see train_chunk); each has its own set of generators
        self.generators = [
            torch.Generator(device=self.device).manual_seed(self.seed + 1 + i) for i in range(2 * self.parts)
        ]
        if self.device.type == "cpu":
            from multiview.objectives.word2vec_cpu import warm_up

            warm_up()
            # One thread per op, parallel across workers: small ops scale badly on a busy machine.
            self.intra_op_threads = torch.get_num_threads()
            torch.set_num_threads(1)
            if self.workers > 1:
                self.pool = ThreadPoolExecutor(self.workers, initializer=torch.set_num_threads, initargs=(1,))

    def on_fit_end(self) -> None:
        self.drain()
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
        if self.device.type == "cpu":
            torch.set_num_threads(self.intra_op_threads)
        if self.trainer is not None and self.trainer.is_global_zero and not self.trainer.interrupted:
            self.export(self.trainer.default_root_dir)

    def current_alpha(self) -> float:
        progress = min(1.0, self.words_done / self.total_words)
        return self.alpha - (self.alpha - self.min_alpha) * progress

    def train_chunk(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[float, int]:
        """Train on a chunk of whole sentences, split between the workers (Hogwild, Recht et al.
        2011: they update the shared rows without locks, as word2vec.c's threads do).

        With worker threads the chunk is queued and the call returns the previous chunk's result,
        so the threads keep working while the trainer loop fetches the next chunk; at most two
        chunks are in flight. Returns the loss per prediction (a pair in skip-gram, a window in
        CBOW) of a first batch before its update, and the (context, center) pair count (``nan, 0``
        while nothing has finished).
        """
        alpha = self.current_alpha()
        # every chunk's draws are seeded by the words trained before it, so a resumed run draws
        # what the uninterrupted one drew
        key = (self.seed * 1_000_003 + self.words_done) * 64
        if self.pool is None:
            return self.train_part(ids, lengths, self.generators[0].manual_seed(key), alpha)
        parts = split_sentences(ids, lengths, self.parts)
        # concurrent jobs never share a generator: chunk n uses set n % 2, part i generator i
        offset = (self.chunks_submitted % 2) * self.parts
        self.chunks_submitted += 1
        for k in range(len(parts)):
            self.generators[offset + k].manual_seed(key + 1 + k)
        jobs = [
            self.pool.submit(self.train_part, i, n, self.generators[offset + k], alpha)
            for k, (i, n) in enumerate(parts)
        ]
        previous = self.pending
        self.pending = previous + jobs  # until collected, drain() waits for both chunks
        result = self.collect(previous)
        self.pending = jobs
        return result

    @staticmethod
    def collect(jobs) -> tuple[float, int]:
        results = [job.result() for job in jobs]
        if not results:
            return float("nan"), 0
        return results[0][0], sum(pairs for _, pairs in results)

    def drain(self) -> tuple[float, int]:
        """Wait for the chunk still in flight (before a checkpoint, an epoch's end, the export)."""
        jobs, self.pending = self.pending, []
        return self.collect(jobs)

    def train_part(self, ids, lengths, generator, alpha: float) -> tuple[float, int]:
        with torch.autocast(self.device.type, enabled=False):
            return self._train_part(ids, lengths, generator, alpha)

    def _train_part(self, ids, lengths, generator, alpha: float) -> tuple[float, int]:
        sentence = torch.repeat_interleave(torch.arange(lengths.numel(), device=ids.device), lengths)
        keep = subsample(ids, self.keep_prob, generator)
        ids, sentence = ids[keep], sentence[keep]
        effective = reduced_windows(ids.numel(), self.window, generator, ids.device)
        if self.device.type != "cpu":
            negatives = self.negatives.sample((ids.numel(), self.negative), generator)
            return self._train_batched(ids, sentence, negatives, effective, alpha)
        from multiview.objectives.word2vec_cpu import STREAMS, train_windows

        # the loop draws K negatives per (context, center) pair in skip-gram, per window in CBOW
        seed = int(torch.randint(1, 2**62, (1,), generator=generator))
        lo, hi = window_bounds(sentence, effective) if ids.numel() else (ids, ids)
        tables = (self.negatives.accept, self.negatives.alias)
        arrays = [t.numpy() for t in (self.syn0, self.syn1, ids, lo, hi, *tables)]
        return train_windows(*arrays, seed, self.negative, alpha, self.sg, STREAMS)

    def _train_batched(self, ids, sentence, negatives, effective, alpha: float) -> tuple[float, int]:
        """The accelerator path: windows packed by context count, updated in batches."""
        batches, pairs = [], 0
        for centers, contexts in window_contexts(sentence, effective):
            outputs, weights = pair_weights(ids[centers], negatives[centers])
            contexts = ids[contexts]
            pairs += contexts.numel()
            step = max(1, self.batch_pairs // contexts.shape[1])
            batches += [
                (contexts[a : a + step], outputs[a : a + step], weights[a : a + step])
                for a in range(0, centers.numel(), step)
            ]
        if not batches:
            return 0.0, 0
        loss = self.update(self.syn0, self.syn1, *batches[0], alpha, with_loss=True)
        for contexts, outputs, weights in batches[1:]:
            self.update(self.syn0, self.syn1, contexts, outputs, weights, alpha)
        predictions = batches[0][0].numel() if self.sg else batches[0][0].shape[0]
        return loss / predictions, pairs

    def training_step(self, batch, batch_idx):
        """Its own loop (worker threads, no autograd); figures through the base's
        :meth:`~multiview.methods.base.Method.log_figures`: ``loss`` (per prediction, once a chunk
        has finished), ``alpha`` (the learning rate) and ``pairs`` trained."""
        ids, lengths = batch["ids"], batch["lengths"]
        loss, pairs = self.train_chunk(ids, lengths)
        self.words_done += ids.numel()
        figures = {"loss": loss if pairs else None, "alpha": self.current_alpha(), "pairs": float(pairs)}
        self.log_figures("train", figures, ids.numel())
        return None

    def on_train_epoch_end(self) -> None:
        self.drain()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        self.drain()  # the state_dict's tensors share storage with syn0/syn1, saved after this
        counts = torch.as_tensor(self.counts)
        checkpoint["word2vec"] = {"words": self.words, "counts": counts, "words_done": self.words_done}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint["word2vec"]
        if not self.words:
            self.build(state["words"], state["counts"].numpy())
        self.words_done = int(state["words_done"])

    def vectors(self) -> torch.Tensor:
        self.drain()
        return self.syn0.detach().float().cpu()

    def keyed_vectors(self):
        return to_keyed_vectors(self.words, self.vectors(), self.counts)

    def export(self, folder: Path) -> dict[str, Path]:
        folder = Path(folder)
        return {
            kind: save_word2vec(folder / f"vectors.{kind}", self.words, self.vectors(), binary=kind == "bin")
            for kind in ("bin", "txt")
        }

    def encoders(self) -> dict:
        """The word view: mean of the current word vectors (:class:`~multiview.encoders.text.TextEncoder`)."""
        return {"text": TextEncoder.from_table(self.words, self.vectors())}
