"""``multiview runs compare`` pairs runs on their shared queries (synthetic per-query results)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from multiview.cli.main import main
from multiview.eval.core.queries import QUERY_FILE, query_metrics, read_queries, write_queries

KEY = "retrieval/frame_to_audio/R@1"


def fake_run(folder, ranks: np.ndarray, ids: list[str], with_queries: bool = True):
    """A finished run folder whose figures follow from ``ranks`` (no ties), as the report writes them."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("model: {class_path: multiview.methods.cmc.CMC}\n")
    rows = [("trained", "frame_to_audio", q, float(r), 0.0, None) for q, r in zip(ids, ranks)]
    if with_queries:
        write_queries(folder / QUERY_FILE, rows)
    hits = (ranks <= 1).mean()
    (folder / "metrics.json").write_text(json.dumps({KEY: hits, f"{KEY}_lo": hits - 0.05, f"{KEY}_hi": hits + 0.05,
                                                     "retrieval/frame_to_audio/median_rank": float(np.median(ranks))}))
    return folder


def ranks(seed: int, n: int, shift: float) -> np.ndarray:
    difficulty = np.random.default_rng(0).normal(0.5, 1.0, n)  # the queries' shared difficulty
    noise = np.random.default_rng(seed).normal(0, 0.5, n)
    return np.maximum(1.0, np.round(np.exp(difficulty + noise - shift)))


def test_a_real_difference_is_paired_tested_and_charted(tmp_path, capsys):
    ids = [f"clip{i:05d}.mp4" for i in range(200)]
    a = fake_run(tmp_path / "a", ranks(1, 200, 0.0), ids)
    b = fake_run(tmp_path / "b", ranks(2, 200, 0.8)[::-1], ids[::-1])  # better (lower ranks); rows in another order
    chart = tmp_path / "compare.png"
    assert main(["runs", "compare", str(a), str(b), "--out", str(chart), "--bootstrap", "500"]) == 0
    out = capsys.readouterr().out
    assert "paired on 200 shared queries" in out
    row = next(ln for ln in out.splitlines() if ln.startswith(f"{KEY} ") and " a " in f" {ln} ")
    d, lo, hi, p = (float(x) for x in re.search(r"(\S+) \[(\S+), (\S+)\]\s+(\S+)$", row).groups())
    qa, qb = (query_metrics(read_queries(r / QUERY_FILE)[("trained", "frame_to_audio")])["R@1"] for r in (a, b))
    assert d == pytest.approx(qb.mean() - qa.mean(), abs=1e-3) and lo <= d <= hi and lo > 0 and p < 0.01
    assert chart.stat().st_size > 5000
    line = next(ln for ln in out.splitlines() if ln.startswith(f"{KEY} ") and "[" in ln and " a " not in f" {ln} ")
    assert len(re.findall(r"\S+ \[\S+, \S+\]", line)) == 2  # each run's figure with its interval


def test_runs_on_different_queries_are_refused_in_one_line(tmp_path, capsys):
    ids = [f"clip{i:05d}.mp4" for i in range(64)]
    a = fake_run(tmp_path / "a", ranks(1, 64, 0.0), ids)
    b = fake_run(tmp_path / "b", ranks(2, 64, 0.0), ids[:32] + [f"other{i}.mp4" for i in range(32)])
    assert main(["runs", "compare", str(a), str(b), "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "different query sets" in err and "32 shared" in err, err


def test_a_run_without_per_query_results_is_compared_unpaired(tmp_path, capsys):
    ids = [str(i) for i in range(50)]
    a = fake_run(tmp_path / "a", ranks(1, 50, 0.0), ids)
    b = fake_run(tmp_path / "b", ranks(2, 50, 0.0), ids, with_queries=False)
    assert main(["runs", "compare", str(a), str(b), "--out", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert f"no paired comparison: b has no {QUERY_FILE}" in out and "paired on" not in out
