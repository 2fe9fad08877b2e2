"""DINO's self-distillation loss (Caron et al. 2021, Eq. 1-4, Algorithm 1).

The teacher's outputs are centred and sharpened, ``P_t = softmax((g_t(x) - c) / tau_t)``, the
student's softened, ``P_s = softmax(g_s(x) / tau_s)``. With multi-crop (Sec. 3.1) the teacher
sees only the global crops and the student every crop; the loss is the cross-entropy averaged
over every (teacher global crop, student crop) pair of *different* crops (Eq. 3):

    L = 1 / #pairs  sum_{x in global} sum_{x' != x} -P_t(x) . log P_s(x'),

each term a mean over the batch. The centre is an exponential average of the teacher's batch
means (Eq. 4), taken over every rank: ``c <- m c + (1 - m) mean_i g_t(x_i)``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from multiview.objectives.gather import is_distributed


def dino_loss(student: list[torch.Tensor], teacher: list[torch.Tensor], center: torch.Tensor,
              student_temp: float = 0.1, teacher_temp: float = 0.04) -> torch.Tensor:
    """Cross-entropy of the student's crops ``[B, K]`` each against the teacher's global crops
    ``[B, K]`` (the first ``len(teacher)`` student crops are the same global crops, skipped)."""
    if len(teacher) > len(student):
        raise ValueError(f"{len(teacher)} teacher crops but only {len(student)} student crops")
    targets = [F.softmax((t.float() - center) / teacher_temp, dim=-1).detach() for t in teacher]
    logs = [F.log_softmax(s.float() / student_temp, dim=-1) for s in student]
    total, pairs = 0.0, 0
    for i, p in enumerate(targets):
        for j, log_q in enumerate(logs):
            if i == j:
                continue
            total = total + (-(p * log_q).sum(-1)).mean()
            pairs += 1
    if pairs == 0:
        raise ValueError("DINO needs at least two crops")
    return total / pairs


@torch.no_grad()
def updated_center(center: torch.Tensor, teacher: list[torch.Tensor], momentum: float = 0.9) -> torch.Tensor:
    """Eq. 4: the centre moved towards the teacher outputs' mean over every crop and rank."""
    out = torch.cat([t.float() for t in teacher])
    total = out.sum(0, keepdim=True)
    count = torch.tensor(float(len(out)), device=out.device)
    if is_distributed():
        dist.all_reduce(total)
        dist.all_reduce(count)
    return center * momentum + (total / count) * (1 - momentum)
