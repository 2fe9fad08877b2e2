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


def hand_edit(run, line: int, column: str, value: str) -> None:
    """Set ``column`` of the file's ``line`` (1-based, header is line 1) to ``value``."""
    path = run / QUERY_FILE
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("column,value", [("rank", "-5"), ("rank", "nan"), ("rank", "100000"), ("tied", "-1"),
                                          ("ap", "2.5"), ("rank", "abc")])
def test_a_hand_edited_row_is_refused_naming_the_file_row_and_value(tmp_path, capsys, column, value):
    ids = [f"clip{i:05d}.mp4" for i in range(32)]
    a = fake_run(tmp_path / "a", ranks(1, 32, 0.0), ids)
    b = fake_run(tmp_path / "b", ranks(2, 32, 0.0), ids)
    hand_edit(b, 7, column, value)
    assert main(["runs", "compare", str(a), str(b), "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(b / QUERY_FILE) in err and "row 7" in err and value in err, err


def test_a_duplicated_query_is_named_not_called_a_different_query_set(tmp_path, capsys):
    ids = [f"clip{i:05d}.mp4" for i in range(32)]
    a = fake_run(tmp_path / "a", ranks(1, 32, 0.0), ids)
    b = fake_run(tmp_path / "b", ranks(1, 32, 0.0), ids)
    path = b / QUERY_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + lines[5:15]) + "\n")  # ten rows pasted twice
    assert main(["runs", "compare", str(a), str(b), "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "duplicate query" in err and str(path) in err, err
    assert "different query sets" not in err


def test_figures_that_disagree_with_their_queries_are_refused_naming_the_file(tmp_path, capsys):
    ids = [f"clip{i:05d}.mp4" for i in range(32)]
    a = fake_run(tmp_path / "a", ranks(1, 32, 0.0), ids)
    b = fake_run(tmp_path / "b", ranks(2, 32, 0.0), ids)
    figures = json.loads((b / "metrics.json").read_text())
    (b / "metrics.json").write_text(json.dumps({k: float("nan") for k in figures}))  # all NaN
    assert main(["runs", "compare", str(a), str(b), "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(b / "metrics.json") in err and "disagree" in err, err


def test_a_garbage_query_file_is_one_line_naming_it(tmp_path, capsys):
    ids = [f"clip{i:05d}.mp4" for i in range(32)]
    a = fake_run(tmp_path / "a", ranks(1, 32, 0.0), ids)
    b = fake_run(tmp_path / "b", ranks(2, 32, 0.0), ids)
    (b / QUERY_FILE).write_bytes(b"model,direction,query,rank,tied,ap\n\xff\xfe\x00garbage\x81\n" * 3)
    assert main(["runs", "compare", str(a), str(b), "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(b / QUERY_FILE) in err, err
