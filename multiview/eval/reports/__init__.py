"""End-of-fit reports, as Lightning callbacks a recipe names in ``trainer.callbacks``:

- :class:`RetrievalReport`: cross-view retrieval on the held-out data (``multiview eval retrieval``)
- :class:`ProbeReport`: linear probe and kNN of the labels on frozen encoder features
  (``multiview eval probe`` and ``multiview eval knn``); :class:`KNNReport`: the kNN figures alone
- :class:`TSNEReport`: a 2-D map of one encoder's features (``multiview eval tsne``)
- :class:`ClusterReport`: ambient sound's cluster prediction and ``clusters.png``
- :class:`WordsReport`: analogies and word similarity of a word table (``multiview eval words``)

One path per figure: each report calls the function its command calls (``eval/core``), on the
run's own data with the command's defaults, so ``multiview eval <kind> --checkpoint RUN --data run``
reproduces the figures the report wrote to ``RUN/metrics.json``.
"""

from multiview.eval.reports.clusters import ClusterReport
from multiview.eval.reports.probe import KNNReport, ProbeReport
from multiview.eval.reports.retrieval import RetrievalReport
from multiview.eval.reports.tsne import TSNEReport
from multiview.eval.reports.words import WordsReport

__all__ = ["ClusterReport", "KNNReport", "ProbeReport", "RetrievalReport", "TSNEReport", "WordsReport"]
