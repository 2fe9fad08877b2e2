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


def read_queries(path: Path, n_candidates: int | None = None) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """``{(model, direction): {"query": ids, "rank", "tied", "ap": float arrays}}``, sorted by id.

    Every row is checked (:func:`_check_row`): a finite ``rank`` in ``[1, n_candidates]`` (the
    gallery's size; the direction's number of queries when it is not known), ``tied`` in
    ``[0, rank - 1]`` (times two: ``higher = rank - 1 - tied / 2 >= 0``), ``ap`` empty or in
    ``[0, 1]``, each query once per direction; a bad row is one line naming the file, the row and the value."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise UserError(f"{path}: expected the columns {','.join(COLUMNS)}, found {reader.fieldnames}")
            groups: dict[tuple[str, str], list[tuple[int, dict]]] = {}
            for row in reader:
                groups.setdefault((row["model"], row["direction"]), []).append((reader.line_num, row))
    except OSError as e:
        raise UserError(f"{path}: cannot read per-query results ({e.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"{path}: not a per-query results file ({type(e).__name__}: {e})") from None
    out = {}
    for key, rows in groups.items():
        n = n_candidates or len(rows)
        seen: set[str] = set()
        for line, row in rows:
            if row["query"] in seen:
                raise UserError(f"{path}: duplicate query {row['query']!r} in {key[1]} ({key[0]}), row {line}")
            seen.add(row["query"])
        parsed = sorted((row["query"], *_check_row(path, line, row, n)) for line, row in rows)
        columns = {c: np.array([r[i] for r in parsed], dtype=float) for i, c in ((1, "rank"), (2, "tied"), (3, "ap"))}
        out[key] = {"query": np.array([r[0] for r in parsed]), **columns}
    return out


def _check_row(path: Path, line: int, row: dict, n: int) -> tuple[float, float, float]:
    """``(rank, tied, ap)`` of one row, or a :class:`UserError` naming the row and its bad value."""
    values = []
    for column, low, high in (("rank", 1.0, float(n)), ("tied", 0.0, float(n - 1)), ("ap", 0.0, 1.0)):
        text = row.get(column)
        if column == "ap" and not text:
            values.append(math.nan)
            continue
        try:
            value = float(text)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            raise UserError(f"{path}: row {line}: {column} {text!r} is not a number in [{low:g}, {high:g}]"
                            + (f" ({n} candidates)" if column == "rank" else ""))
        values.append(value)
    rank, tied, _ = values
    if rank - 1.0 - tied / 2.0 < -1e-6:
        raise UserError(f"{path}: row {line}: rank {row['rank']} with {row['tied']} tied is impossible "
                        "(expected rank >= 1 + tied / 2)")
    return rank, tied, values[2]


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
