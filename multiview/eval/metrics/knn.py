"""Weighted k-nearest-neighbour classification on L2-normalised features.

Wu, Xiong, Yu & Lin 2018, "Unsupervised Feature Learning via Non-Parametric Instance
Discrimination", Sec. 3.4: the ``k`` training features with the highest cosine similarity
``s_i`` to a test feature vote for their class with weight ``exp(s_i / tau)``; the class with the
largest total wins (k = 200, tau = 0.07 in the paper). Neighbours tied with the ``k``-th
similarity share its remaining places (each votes with its probability of being in the top ``k``
under random tie-breaking, :func:`multiview.eval.metrics.ranking.topk_inclusion`); non-finite
similarities never vote, and a test feature with no finite similarity predicts no class.
``k`` and ``tau`` are chosen on the validation split from a small grid, then the training +
validation features are the memory.

``multiview eval knn --checkpoint RUN --data ...`` reports it for the trained encoder and its
baselines, writing ``knn.json`` and ``knn.png``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from multiview.eval.metrics.ranking import topk_inclusion

K_GRID = (10, 20, 50, 200)
TAU_GRID = (0.07, 0.5)


def knn_scores(train_z: torch.Tensor, train_y: torch.Tensor, test_z: torch.Tensor, k: int = 200,
               temperature: float = 0.07, n_classes: int | None = None, chunk: int = 1024) -> torch.Tensor:
    """``[n_test, n_classes]`` summed vote weights ``exp(s / tau)`` of the top-``k`` neighbours."""
    n_classes = n_classes or int(train_y.max()) + 1
    train_z = F.normalize(train_z.float(), dim=1)
    k = min(k, len(train_z))
    out = []
    for start in range(0, len(test_z), chunk):
        sim = F.normalize(test_z[start:start + chunk].float(), dim=1) @ train_z.T
        weight = topk_inclusion(sim, k) * (sim / temperature).exp()
        weight = torch.where(torch.isfinite(sim), weight, torch.zeros_like(weight))
        votes = torch.zeros(len(sim), n_classes).index_add_(1, train_y.long(), weight.float())
        out.append(votes)
    return torch.cat(out)


def knn_top1(train_z, train_y, test_z, test_y, k: int = 200, temperature: float = 0.07) -> float:
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    votes = knn_scores(train_z, train_y, test_z, k, temperature, n_classes)
    pred = torch.where(votes.sum(1) > 0, votes.argmax(1), -1)
    return (pred == test_y.long()).float().mean().item()


def knn_eval(train_z, train_y, val_z, val_y, test_z, test_y, k_grid: tuple[int, ...] = K_GRID,
             tau_grid: tuple[float, ...] = TAU_GRID) -> dict[str, float]:
    """Test top-1 with ``(k, tau)`` chosen on validation; train + val features as the memory."""
    scores = {(k, t): knn_top1(train_z, train_y, val_z, val_y, k, t) for k in k_grid for t in tau_grid}
    k, t = max(scores, key=lambda kt: (scores[kt], -kt[0]))
    top1 = knn_top1(torch.cat([train_z, val_z]), torch.cat([train_y, val_y]), test_z, test_y, k, t)
    return {"top1": top1, "val_top1": scores[(k, t)], "k": float(k), "temperature": t}
