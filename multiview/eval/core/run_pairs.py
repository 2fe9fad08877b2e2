"""Paired comparison of runs scored on the same held-out queries (``multiview runs compare``).

Each run's per-query results (:mod:`multiview.eval.core.queries`) are matched by query id; every
figure they share (``retrieval/<direction>/<metric>`` of the trained model) gets the difference
``B - A`` against the first run ``A``, its paired-bootstrap 95% interval and the two-sided p-value
of the paired permutation test (:func:`~multiview.eval.core.bootstrap.paired_difference`). Runs
scored on different query sets cannot be paired and are refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from multiview.core.errors import UserError
from multiview.eval.core.bootstrap import format_interval, paired_difference, statistic
from multiview.eval.core.queries import QUERY_FILE, query_metrics, read_queries

PLACES = (QUERY_FILE, f"eval/retrieval/{QUERY_FILE}")  # the end-of-fit report's, then the command's
FIGURES = {QUERY_FILE: "metrics.json", f"eval/retrieval/{QUERY_FILE}": "eval/retrieval/retrieval.json"}


@dataclass
class Difference:
    metric: str
    a: str
    b: str
    value_a: float
    value_b: float
    d: float
    lo: float
    hi: float
    p: float


def query_file(run: Path) -> Path | None:
    """The run's per-query results, if it has any."""
    return next((run / p for p in PLACES if (run / p).is_file()), None)


def figures_beside(run: Path, queries: Path) -> tuple[Path, dict[str, float]]:
    """The JSON of figures written with ``queries`` (``metrics.json``, or ``retrieval.json`` of
    ``multiview eval retrieval``) and its numbers; ``{}`` when it is missing or unreadable."""
    path = run / FIGURES[queries.relative_to(run).as_posix()]
    try:
        raw = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return path, {}
    return path, ({k: float(v) for k, v in raw.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
                  if isinstance(raw, dict) else {})


def read_run_queries(run: Path) -> dict:
    """The run's per-query results, checked against the candidates its figures name
    (``retrieval/n_queries``) and against those figures: a file whose figures are not the
    statistics of its rows is refused in one line naming it."""
    queries = query_file(run)
    figures_path, figures = figures_beside(run, queries)
    n = figures.get("retrieval/n_queries")
    results = read_queries(queries, int(n) if n and math.isfinite(n) and n >= 1 else None)
    for (model, direction), q in results.items():
        if model != "trained":
            continue
        for metric, values in query_metrics(q).items():
            key = f"retrieval/{direction}/{metric}"
            if key in figures and not _agree(figures[key], _figure(metric, values)):
                raise UserError(f"runs compare: {figures_path} says {key} = {figures[key]:.4g} but {queries} gives "
                                f"{_figure(metric, values):.4g}: the run's files disagree (re-evaluate it: "
                                f"`multiview eval retrieval --checkpoint {run}`)")
    return results


def _agree(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 1e-3 * max(1.0, abs(a), abs(b))


def paired_differences(runs: list[Path], names: list[str], n_boot: int = 1000, seed: int = 0,
                       model: str = "trained") -> list[Difference]:
    """Every later run against the first, figure by figure, on their shared queries."""
    results = [read_run_queries(r) for r in runs]
    out = []
    for name, res in zip(names[1:], results[1:]):
        for key in sorted(k for k in res if k[0] == model and k in results[0]):
            qa, qb = results[0][key], res[key]
            if len(qa["query"]) != len(qb["query"]) or (qa["query"] != qb["query"]).any():
                shared = len(set(qa["query"].tolist()) & set(qb["query"].tolist()))
                raise UserError(f"runs compare: {name} and {names[0]} were scored on different query sets "
                                f"({key[1]}: {len(qb['query'])} and {len(qa['query'])} queries, {shared} shared); "
                                f"pairing needs the same held-out clips")
            ma, mb = query_metrics(qa), query_metrics(qb)
            for metric in [m for m in ma if m in mb]:
                d, lo, hi, p = paired_difference(metric, ma[metric], mb[metric], n_boot, seed)
                out.append(Difference(f"retrieval/{key[1]}/{metric}", names[0], name, d=d, lo=lo, hi=hi, p=p,
                                      value_a=_figure(metric, ma[metric]), value_b=_figure(metric, mb[metric])))
    return out


def _figure(metric: str, values) -> float:
    return float(statistic(metric, values))


def paired_table(diffs: list[Difference], n_queries: int, n_boot: int) -> str:
    """The differences as a table, one row per figure and pair of runs."""
    header = ["metric", "A", "B", "value A", "value B", "B - A [95% CI]", "p"]
    rows = [[x.metric, x.a, x.b, f"{x.value_a:.4f}", f"{x.value_b:.4f}", format_interval(x.d, x.lo, x.hi),
             f"{x.p:.3f}"] for x in diffs]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = [f"paired on {n_queries} shared queries (paired bootstrap, {n_boot} resamples; "
             "p: two-sided paired permutation test)", ""]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
              for line in (header, ["-" * w for w in widths], *rows)]
    return "\n".join(lines)


def compare_paired(runs: list[Path], names: list[str], n_boot: int = 1000,
                   seed: int = 0) -> tuple[str, list[Difference]]:
    """``(text, differences)``: the paired table, or one line saying why the runs cannot be paired."""
    if len(runs) < 2:
        return "", []
    missing = [n for r, n in zip(runs, names) if query_file(r) is None]
    if missing:
        return (f"no paired comparison: {', '.join(missing)} has no {QUERY_FILE} (evaluated before per-query "
                f"results: `multiview eval retrieval --checkpoint RUN` writes it)"), []
    diffs = paired_differences(runs, names, n_boot, seed)
    if not diffs:
        return "no paired comparison: the runs share no retrieval direction", []
    n = len(read_run_queries(runs[0])[("trained", diffs[0].metric.split("/")[1])]["query"])
    return paired_table(diffs, n, n_boot), diffs
