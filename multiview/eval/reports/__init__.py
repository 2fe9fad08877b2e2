"""End-of-fit reports, as Lightning callbacks a recipe names in ``trainer.callbacks``:

- :class:`RetrievalReport`: cross-view retrieval on the held-out data (``multiview eval retrieval``)
- :class:`ProbeReport`: linear probe of the labels on frozen encoder features
- :class:`ClusterReport`: ambient sound's cluster prediction and ``clusters.png``
- :class:`TSNEReport`: a 2-D map of one encoder's features
- :class:`WordsReport`: analogies and word similarity of a word table
"""

from multiview.eval.reports.clusters import ClusterReport
from multiview.eval.reports.probe import ProbeReport
from multiview.eval.reports.retrieval import RetrievalReport
from multiview.eval.reports.tsne import TSNEReport
from multiview.eval.reports.words import WordsReport

__all__ = ["ClusterReport", "ProbeReport", "RetrievalReport", "TSNEReport", "WordsReport"]
