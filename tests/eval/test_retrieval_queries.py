"""Per-query retrieval rows: written, read back, and the figures recomputed from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from multiview.core.errors import UserError
from multiview.eval.core.paired import query_ids, query_rows, row_intervals
from multiview.eval.core.queries import query_metrics, read_queries, write_queries
from multiview.eval.metrics.retrieval import class_map, retrieval_metrics, similarity


def embeddings(n: int = 40, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    frame = torch.randn(n, 8, generator=g)
    audio = frame + 1.5 * torch.randn(n, 8, generator=g)
    audio[:6] = 1.0  # six identical sounds: tied scores
    return {"frame": frame, "audio": audio, "label": torch.arange(n) % 4}


def test_rows_round_trip_and_give_back_every_figure(tmp_path):
    z = embeddings()
    ids = [f"clip{i:05d}.mp4" for i in range(40)]
    rows = query_rows(z, ["frame", "audio"], "trained", ids)
    read = read_queries(write_queries(tmp_path / "q.csv", rows))
    assert set(read) == {("trained", "frame_to_audio"), ("trained", "audio_to_frame")}
    for a, b in (("frame", "audio"), ("audio", "frame")):
        q = read[("trained", f"{a}_to_{b}")]
        assert sorted(ids) == list(q["query"])
        reference = retrieval_metrics(similarity(z[a], z[b]))
        reference["class_mAP"] = class_map(similarity(z[a], z[b]), z["label"], z["label"])
        per_query = query_metrics(q)
        assert set(per_query) == set(reference)
        for name, values in per_query.items():
            got = np.median(values) if name == "median_rank" else np.mean(values)
            assert got == pytest.approx(reference[name], abs=1e-5), name
    assert read[("trained", "frame_to_audio")]["tied"].max() == 5  # the six equal sounds tie


def test_intervals_come_for_each_figure_and_unlabelled_rows_have_no_ap(tmp_path):
    z = embeddings()
    z["label"] = torch.full((40,), -1)
    rows = query_rows(z, ["frame", "audio"], "random_init", [str(i) for i in range(40)])
    assert all(r[5] is None for r in rows)
    q = read_queries(write_queries(tmp_path / "q.csv", rows))[("random_init", "frame_to_audio")]
    assert np.isnan(q["ap"]).all() and "class_mAP" not in query_metrics(q)
    figures = row_intervals(rows, 200, 0)
    assert "retrieval/random_init/frame_to_audio/mean_rank_lo" in figures
    key = "retrieval/random_init/frame_to_audio/R@1"
    assert figures[key + "_lo"] <= figures[key + "_hi"]


def test_query_ids_name_clips_or_fall_back_to_positions():
    class Loader:
        dataset = type("D", (), {"records": [{"path": "/data/a/x.mp4"}, {"path": "/data/b/y.mp4"}]})()

    assert query_ids(Loader(), 2) == ["a/x.mp4", "b/y.mp4"]
    assert query_ids(Loader(), 3) == ["0", "1", "2"]  # a sample was skipped: positions
    assert query_ids([{"frame": None}], 2) == ["0", "1"]


def test_a_file_with_other_columns_is_refused_in_one_line(tmp_path):
    (tmp_path / "q.csv").write_text("query,rank\na,1\n")
    with pytest.raises(UserError, match="expected the columns model,direction,query,rank,tied,ap"):
        read_queries(tmp_path / "q.csv")
