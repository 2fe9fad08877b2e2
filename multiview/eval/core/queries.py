"""Per-query retrieval results: the file every retrieval evaluation writes beside its JSON.

``retrieval_queries.csv`` (:data:`QUERY_FILE`) sits next to the figures it explains: in the run
folder beside ``metrics.json`` for the end-of-fit :class:`~multiview.eval.reports.RetrievalReport`,
beside ``retrieval.json`` for ``multiview eval retrieval``. One row per (model, direction, query),
comma-separated, with a header:

========== =====================================================================================
column     meaning
========== =====================================================================================
model      ``trained`` or ``random_init`` (the same architecture at random init)
direction  ``<query view>_to_<gallery view>``, e.g. ``frame_to_audio``; cross-view pairs only
query      the query's id: its clip's path relative to the held-out clips' common folder
           (``clip00300.mp4`` on the embedded corpus), or its position ``0 .. n-1`` in the
           held-out loader when the samples cannot be named
rank       expected 1-based rank of the true match under random tie-breaking,
           ``1 + higher + tied / 2`` (:func:`~multiview.eval.metrics.ranking.expected_rank`)
tied       other gallery items whose score equals the true match's (``higher = rank - 1 - tied/2``)
ap         the query's class average precision in this direction (tie-aware); empty where the
           samples carry no labels or no gallery item shares the query's class
========== =====================================================================================

Every figure of a direction is a statistic of its rows (:func:`query_metrics`): ``R@K`` the mean
of ``clip((K - higher) / (tied + 1), 0, 1)``, ``median_rank`` and ``mean_rank`` of ``rank``,
``class_mAP`` the mean of the non-empty ``ap``. Two evaluations on the same held-out clips have
the same set of ``query`` ids per direction, which is what pairs them
(:mod:`multiview.eval.core.bootstrap`).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from multiview.core.errors import UserError
from multiview.core.io import atomic_write

QUERY_FILE = "retrieval_queries.csv"
COLUMNS = ("model", "direction", "query", "rank", "tied", "ap")
KS = (1, 5, 10)


def write_queries(path: Path, rows: list[tuple]) -> Path:
    """Write ``rows`` of :data:`COLUMNS` (``ap`` NaN or None for none) atomically to ``path``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for model, direction, query, rank, tied, ap in rows:
        ap_text = "" if ap is None or not math.isfinite(ap) else f"{ap:.6g}"
        w.writerow([model, direction, query, f"{rank:.6g}", f"{tied:.6g}", ap_text])
    text = buf.getvalue()
    return atomic_write(path, lambda f: f.write(text), mode="w")


def read_queries(path: Path) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """``{(model, direction): {"query": ids, "rank", "tied", "ap": float arrays}}``, sorted by id."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise UserError(f"{path}: expected the columns {','.join(COLUMNS)}, found {reader.fieldnames}")
            groups: dict[tuple[str, str], list[dict]] = {}
            for row in reader:
                groups.setdefault((row["model"], row["direction"]), []).append(row)
    except OSError as e:
        raise UserError(f"{path}: cannot read per-query results ({e.strerror})") from None
    out = {}
    for key, rows in groups.items():
        rows.sort(key=lambda r: r["query"])
        try:
            values = {c: np.array([float(r[c]) if r[c] else math.nan for r in rows]) for c in ("rank", "tied", "ap")}
            out[key] = {"query": np.array([r["query"] for r in rows]), **values}
        except ValueError as e:
            raise UserError(f"{path}: a rank, tied or ap value is not a number ({e})") from None
    return out


def hits_at_k(rank: np.ndarray, tied: np.ndarray, k: int) -> np.ndarray:
    """Per-query probability that the true match ranks within ``k``, under random tie-breaking."""
    higher = rank - 1.0 - tied / 2.0
    return np.clip((k - higher) / (tied + 1.0), 0.0, 1.0)


def query_metrics(q: dict[str, np.ndarray], ks: tuple[int, ...] = KS) -> dict[str, np.ndarray]:
    """Per-query values whose mean (``median`` for ``median_rank``) is each figure of a direction."""
    out = {f"R@{k}": hits_at_k(q["rank"], q["tied"], k) for k in ks}
    out["median_rank"] = out["mean_rank"] = q["rank"]
    if np.isfinite(q["ap"]).any():
        out["class_mAP"] = q["ap"]
    return out
