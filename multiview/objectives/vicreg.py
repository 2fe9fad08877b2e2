"""VICReg: variance-invariance-covariance regularisation (Bardes, Ponce, LeCun, ICLR 2022, Sec. 3).

For two batches of embeddings ``Z, Z'`` (``n`` samples, ``d`` dimensions) of two views of the same
images, with ``z^j`` the ``j``-th dimension over the batch:

    v(Z) = 1/d sum_j max(0, gamma - S(z^j, eps)),   S(x, eps) = sqrt(Var(x) + eps)          (Eq. 1)
    C(Z) = 1/(n - 1) sum_i (z_i - zbar)(z_i - zbar)^T                                     (Eq. 2)
    c(Z) = 1/d sum_{i != j} [C(Z)]_{i,j}^2                                                 (Eq. 3)
    s(Z, Z') = 1/n sum_i ||z_i - z'_i||^2                                                  (Eq. 4)
    l(Z, Z') = lambda s(Z, Z') + mu [v(Z) + v(Z')] + nu [c(Z) + c(Z')]                    (Eq. 6)

with ``gamma = 1``, ``eps = 1e-4`` and ``lambda = mu = 25``, ``nu = 1`` (Sec. 4.2). ``Var`` is the
unbiased variance. The weights are those of the authors' code (facebookresearch/vicreg,
``main_vicreg.py``), which this follows where it differs from the equations as printed: the
invariance is the mean squared error per element (Eq. 4 divided by ``d``) and the variance term is
the *mean* of the two branches' (``mu [v(Z) + v(Z')] / 2``).

Across GPUs, as in the authors' code (``FullGatherLayer``), the invariance is taken on each
device's own pairs while the variance and covariance are taken on the embeddings of every device
(:func:`~multiview.objectives.gather.gather_with_grad`, whose backward sums each slice's gradient
over ranks): with DDP's averaging, the gradient is that of the loss on the global batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from multiview.core.errors import UserError
from multiview.objectives.gather import gather_with_grad


def variance(z: torch.Tensor, gamma: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    """``v(Z)`` of Eq. 1: the hinge on each dimension's standard deviation, mean over dimensions."""
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(gamma - std).mean()


def covariance(z: torch.Tensor) -> torch.Tensor:
    """``c(Z)`` of Eq. 2-3: the squared off-diagonal entries of the covariance matrix, summed, / d."""
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = z.T @ z / (n - 1)
    return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / d


def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, sim_weight: float = 25.0, var_weight: float = 25.0,
                cov_weight: float = 1.0, gamma: float = 1.0, eps: float = 1e-4) -> dict[str, torch.Tensor]:
    """VICReg's loss (Eq. 6) of two ``[n, d]`` batches of embeddings (``n >= 2`` over all devices).

    Returns ``{"loss": total, "invariance": s, "variance": (v(Z) + v(Z')) / 2, "covariance":
    c(Z) + c(Z')}``; the total is ``sim_weight * s + var_weight * variance + cov_weight * covariance``.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"expected two [N, D] tensors of one shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    z1, z2 = z1.float(), z2.float()
    invariance = F.mse_loss(z1, z2)
    g1, g2 = gather_with_grad(z1), gather_with_grad(z2)
    if len(g1) < 2:
        raise UserError(f"data.batch_size: VICReg's variance needs two or more samples per batch, got {len(g1)}")
    var = (variance(g1, gamma, eps) + variance(g2, gamma, eps)) / 2
    cov = covariance(g1) + covariance(g2)
    total = sim_weight * invariance + var_weight * var + cov_weight * cov
    return {"loss": total, "invariance": invariance, "variance": var, "covariance": cov}
