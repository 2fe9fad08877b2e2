"""The summary of a study (:mod:`multiview.cli.study`): figures over seeds, and seed-matched pairs.

``summary.json|csv|md``: for each variant (recipe and grid values) and metric of the runs'
``metrics.json``, the number of seeds ``n``, the mean, the sample standard deviation and the 95%
t-interval of the mean over seeds, ``mean +- t(0.975, n-1) * sd / sqrt(n)`` (Student 1908); it
treats the seeds as independent draws of the training randomness, and says nothing of the
held-out set's own sampling error (the per-query bootstrap, below, does). ``summary.png`` draws
the means with those intervals as error bars.

``paired.csv|md``: for each seed and each two variants whose runs of that seed both wrote
per-query retrieval results (:data:`multiview.eval.core.queries.QUERY_FILE`) on the same queries,
the difference of each figure (second minus first), its paired-bootstrap 95% interval and the
two-sided p-value of the paired permutation test (:func:`multiview.eval.core.bootstrap.paired_difference`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from fnmatch import fnmatch
from itertools import combinations
from pathlib import Path

import numpy as np

from multiview.core.io import atomic_write, write_json

PAIRED_FIGURES = ("R@1", "R@5", "R@10", "median_rank", "mean_rank")


def _write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text), mode="w")


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


def seed_stats(values: list[float], level: float = 0.95) -> dict[str, float]:
    """``n``, ``mean``, ``sd`` (ddof 1) and the t-interval ``lo``/``hi`` of the mean (NaN for one seed)."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    n, mean = len(x), float(x.mean())
    sd = float(x.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf((1 + level) / 2, n - 1) * sd / math.sqrt(n)) if n > 1 else math.nan
    return {"n": n, "mean": mean, "sd": sd, "lo": mean - half, "hi": mean + half}


def _metrics(run) -> dict[str, float]:
    try:
        m = json.loads((run.folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in m.items()  # a run's own bootstrap bounds are not figures to average
            if isinstance(v, int | float) and not isinstance(v, bool) and not k.endswith(("_lo", "_hi"))}


def table(runs: list, patterns: list[str]) -> list[dict]:
    """One row per (variant, metric) over the complete runs' seeds."""
    values: dict[tuple[str, str], list[float]] = {}
    for r in runs:
        for k, v in _metrics(r).items():
            if any(fnmatch(k, p) for p in patterns) and math.isfinite(v):
                values.setdefault((r.variant, k), []).append(v)
    return [{"variant": variant, "metric": metric, **seed_stats(v)} for (variant, metric), v in values.items()]


def _fmt(x: float) -> str:
    return "-" if not math.isfinite(x) else (f"{x:.1f}" if abs(x) >= 10 else f"{x:.3f}")


def markdown(rows: list[dict]) -> str:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    cell = {(r["variant"], r["metric"]): r for r in rows}
    lines = ["| metric | " + " | ".join(variants) + " |", "| --- |" + " --- |" * len(variants)]
    for m in metrics:
        cells = []
        for v in variants:
            r = cell.get((v, m))
            cells.append("" if r is None else f"{_fmt(r['mean'])} ± {_fmt(r['sd'])} [{_fmt(r['lo'])}, "
                         f"{_fmt(r['hi'])}] (n={r['n']})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "mean ± sd over seeds [95% t-interval of the mean]\n\n" + "\n".join(lines) + "\n"


def chart(rows: list[dict], path: Path, limit: int = 6) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from multiview.core.io import save_figure

    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    shown = [m for m in metrics if "/R@1" in m or m.endswith("accuracy")][:limit] or metrics[:limit]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    cell = {(r["variant"], r["metric"]): r for r in rows}
    fig, ax = plt.subplots(figsize=(1.5 + 1.2 * len(shown) * max(1, len(variants)) / 2, 4))
    width = 0.8 / max(1, len(variants))
    for k, v in enumerate(variants):
        got = [cell.get((v, m)) for m in shown]
        means = [g["mean"] if g else math.nan for g in got]
        err = [[g["mean"] - g["lo"] if g and math.isfinite(g["lo"]) else 0 for g in got],
               [g["hi"] - g["mean"] if g and math.isfinite(g["hi"]) else 0 for g in got]]
        ax.bar(np.arange(len(shown)) + k * width, means, width, yerr=err, capsize=3, label=v)
    ax.set_xticks(np.arange(len(shown)) + 0.4 - width / 2, [m.replace("retrieval/", "") for m in shown],
                  rotation=20, ha="right", fontsize=7)
    ax.set_title("mean over seeds, 95% t-interval", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(path, fig)


def paired(runs: list, n_boot: int = 1000) -> tuple[list[dict], list[str]]:
    """Seed-matched differences of the trained models' per-query figures, and notes on pairs refused."""
    from multiview.eval.core.bootstrap import paired_difference
    from multiview.eval.core.queries import QUERY_FILE, query_metrics, read_queries

    rows, notes = [], []
    by_seed: dict[int, list] = {}
    for r in runs:
        if r.complete and (r.folder / QUERY_FILE).is_file():
            by_seed.setdefault(r.seed, []).append(r)
    for seed, group in sorted(by_seed.items()):
        for a, b in combinations(group, 2):
            qa, qb = read_queries(a.folder / QUERY_FILE), read_queries(b.folder / QUERY_FILE)
            for (model, direction), xa in qa.items():
                xb = qb.get((model, direction))
                if model != "trained" or xb is None:
                    continue
                if not np.array_equal(xa["query"], xb["query"]):
                    notes.append(f"seed {seed}: {a.variant} and {b.variant} were scored on different queries "
                                 f"({direction}); not paired")
                    continue
                ma, mb = query_metrics(xa), query_metrics(xb)
                for name in PAIRED_FIGURES:
                    if name in ma and name in mb:
                        d, lo, hi, p = paired_difference(name, ma[name], mb[name], n_boot=n_boot, seed=seed)
                        rows.append({"seed": seed, "a": a.variant, "b": b.variant, "direction": direction,
                                     "metric": name, "n_queries": len(xa["query"]), "b_minus_a": d,
                                     "lo": lo, "hi": hi, "p": p})
    return rows, notes


def write_summary(runs: list, out: Path, patterns: list[str]) -> list[Path]:
    """Write the study's summary files under ``out``; returns their paths."""
    rows = table(runs, patterns)
    if not rows:
        return []
    finite = [{k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in r.items()} for r in rows]
    written = [write_json(out / "summary.json", {"rows": finite}), _write_text(out / "summary.csv", _csv(rows)),
               _write_text(out / "summary.md", markdown(rows)), chart(rows, out / "summary.png")]
    pairs, notes = paired(runs)
    if pairs or notes:
        lines = ["| seed | a | b | direction | metric | b - a [95% paired bootstrap] | p |", "|" + " --- |" * 7]
        lines += [f"| {p['seed']} | {p['a']} | {p['b']} | {p['direction']} | {p['metric']} | {_fmt(p['b_minus_a'])} "
                  f"[{_fmt(p['lo'])}, {_fmt(p['hi'])}] | {p['p']:.3f} |" for p in pairs]
        text = "\n".join(lines) + "\n" + "".join(f"\n{n}" for n in notes)
        written += [_write_text(out / "paired.csv", _csv(pairs)), _write_text(out / "paired.md", text)]
    return written
