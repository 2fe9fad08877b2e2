"""Bootstrap intervals and paired tests against cases whose truth is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from multiview.eval.core.bootstrap import (
    accuracy_interval,
    bootstrap_values,
    format_interval,
    interval,
    paired_difference,
    statistic,
    with_accuracy_intervals,
)


def binomial_width(p: float, n: int) -> float:
    return 2 * 1.96 * math.sqrt(p * (1 - p) / n)


def test_interval_width_matches_the_binomial_standard_error():
    p, n = 0.3, 400
    widths = []
    for seed in range(5):
        hits = (np.random.default_rng(100 + seed).random(n) < p).astype(float)
        lo, hi = interval("R@1", hits, 1000, seed)
        assert lo < hits.mean() < hi
        widths.append(hi - lo)
    assert np.mean(widths) == pytest.approx(binomial_width(p, n), rel=0.15)
    lo, hi = accuracy_interval(0.3, n, 1000, 0)  # the probe's: from the count of right answers
    assert hi - lo == pytest.approx(binomial_width(p, n), rel=0.15)


def test_coverage_over_many_seeds_is_about_95_percent():
    p, n, trials = 0.3, 400, 300
    covered = 0
    for seed in range(trials):
        hits = (np.random.default_rng(seed).random(n) < p).astype(float)
        lo, hi = interval("R@1", hits, 400, seed)
        covered += lo <= p <= hi
    assert 0.91 <= covered / trials <= 0.985


def test_median_and_missing_values_follow_the_figure():
    ranks = np.array([1.0, 2.0, 3.0, 10.0])
    assert statistic("median_rank", ranks) == 2.5 and statistic("mean_rank", ranks) == 4.0
    ap = np.array([0.5, np.nan, 1.0])
    assert statistic("class_mAP", ap) == 0.75
    boots = bootstrap_values("median_rank", ranks, 50, 0)
    assert set(np.unique(boots)) <= {(x + y) / 2 for x in ranks for y in ranks}  # the two middle ones
    assert format_interval(0.5941, 0.4712, 0.7133) == "0.594 [0.47, 0.71]"


def ranks_of_one_checkpoint(rng, difficulty):
    """Two evaluations of one checkpoint: the same query difficulty, fresh evaluation noise."""
    return np.maximum(1.0, np.round(np.exp(difficulty + rng.normal(0, 0.7, len(difficulty)))))


@pytest.mark.parametrize("metric", ["R@1", "mean_rank"])
def test_paired_false_positive_rate_is_about_5_percent(metric):
    rng = np.random.default_rng(0)
    n, pairs, rejected = 200, 400, 0
    for seed in range(pairs):
        difficulty = rng.normal(0.7, 1.2, n)
        a, b = ranks_of_one_checkpoint(rng, difficulty), ranks_of_one_checkpoint(rng, difficulty)
        if metric == "R@1":
            a, b = (a <= 1).astype(float), (b <= 1).astype(float)
        rejected += paired_difference(metric, a, b, 500, seed)[3] < 0.05
    assert 0.02 <= rejected / pairs <= 0.09


def test_a_real_difference_is_detected_and_pairing_narrows_the_interval():
    rng = np.random.default_rng(1)
    n = 256
    difficulty = rng.normal(0, 1, n)
    a = (difficulty + rng.normal(0, 0.5, n) > 0).astype(float)  # R@1 about 0.5
    b = (difficulty + rng.normal(0, 0.5, n) > -0.35).astype(float)  # about 0.12 better
    d, lo, hi, p = paired_difference("R@1", a, b, 1000, 0)
    assert d == pytest.approx(b.mean() - a.mean()) and lo < d < hi
    assert lo > 0 and p < 0.01
    unpaired = interval("R@1", b, 1000, 0)[1] - interval("R@1", b, 1000, 0)[0]
    unpaired = math.hypot(unpaired, interval("R@1", a, 1000, 1)[1] - interval("R@1", a, 1000, 1)[0])
    assert hi - lo < 0.8 * unpaired  # what the queries share cancels
    d, lo, hi, p = paired_difference("median_rank", a + 1, a + 1, 200, 0)
    assert (d, lo, hi, p) == (0.0, 0.0, 0.0, 1.0)


def test_probe_and_knn_accuracies_get_intervals_over_the_test_samples():
    figures = {"probe/top1": 0.3, "probe/random_init/top1": 0.25, "probe/val_top1": 0.4, "probe/chance/top1": 0.1,
               "probe/majority/top1": 0.2, "probe/n_test": 400.0, "knn/top1": 0.5, "knn/n_test": 100.0}
    out = with_accuracy_intervals(figures, 1000, 0)
    assert set(out) - set(figures) == {f"{k}_{e}" for k in ("probe/top1", "probe/random_init/top1", "knn/top1")
                                       for e in ("lo", "hi")}
    assert out["probe/top1_hi"] - out["probe/top1_lo"] == pytest.approx(binomial_width(0.3, 400), rel=0.15)
    assert out["knn/top1_hi"] - out["knn/top1_lo"] == pytest.approx(binomial_width(0.5, 100), rel=0.15)
