"""Linear probe: a logistic-regression classifier on frozen, standardised features.

The protocol of linear evaluation (Zhang, Isola & Efros 2016; Kolesnikov, Zhai & Beyer 2019):
features are standardised with the training set's mean and standard deviation, an L2-regularised
multinomial logistic regression is fitted for each inverse strength ``C`` in a grid, the ``C``
with the best validation top-1 is kept (ties: the lower validation log-loss), the classifier is refitted on
train + validation with
it, and top-1 accuracy on the test set is reported.

``multiview eval probe --checkpoint RUN --data cifar10|fsdd|run|FOLDER --layer pool`` probes the
trained encoder and its baselines (random init, hand-designed, supervised) on the same splits,
writing ``probe.json`` and ``probe.png``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


def _fit(x: np.ndarray, y: np.ndarray, c: float, max_iter: int) -> LogisticRegression:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(C=c, max_iter=max_iter).fit(x, y)


def _log_loss(clf: LogisticRegression, x: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-probability of the true class; a class the classifier never saw in
    training (a small labelled folder) counts as probability 1e-15 rather than failing."""
    proba = clf.predict_proba(x)
    column = {c: i for i, c in enumerate(clf.classes_.tolist())}
    p = np.array([proba[i, column[t]] if t in column else 0.0 for i, t in enumerate(y.tolist())])
    return float(-np.log(np.clip(p, 1e-15, 1.0)).mean())


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor,
                 test_x: torch.Tensor, test_y: torch.Tensor, c_grid: tuple[float, ...] = C_GRID,
                 max_iter: int = 300) -> dict[str, float]:
    """Test top-1 of the probe whose ``C`` scored best on validation, refitted on train + val."""
    xs = [t.double().numpy() for t in (train_x, val_x, test_x)]
    ys = [t.long().numpy() for t in (train_y, val_y, test_y)]
    scaler = StandardScaler().fit(xs[0])
    tr, va = scaler.transform(xs[0]), scaler.transform(xs[1])
    val_scores, val_loss = {}, {}
    for c in c_grid:
        clf = _fit(tr, ys[0], c, max_iter)
        val_scores[c] = float((clf.predict(va) == ys[1]).mean())
        val_loss[c] = _log_loss(clf, va, ys[1])
    best = max(c_grid, key=lambda c: (val_scores[c], -val_loss[c]))  # ties: the better-calibrated
    x_all, y_all = np.concatenate(xs[:2]), np.concatenate(ys[:2])
    scaler = StandardScaler().fit(x_all)
    clf = _fit(scaler.transform(x_all), y_all, best, max_iter)
    top1 = float((clf.predict(scaler.transform(xs[2])) == ys[2]).mean())
    return {"top1": top1, "val_top1": val_scores[best], "C": best}


def probe_top1(train_x, train_y, test_x, test_y, val_fraction: float = 0.2, seed: int = 0) -> float:
    """:func:`linear_probe` with its validation split taken from the training set (seeded)."""
    train_x, test_x = torch.as_tensor(train_x), torch.as_tensor(test_x)
    train_y, test_y = torch.as_tensor(train_y), torch.as_tensor(test_y)
    order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
    cut = max(1, int(len(order) * val_fraction))
    val, fit = order[:cut], order[cut:]
    return linear_probe(train_x[fit], train_y[fit], train_x[val], train_y[val], test_x, test_y)["top1"]
