"""NCE with a memory bank per view (Wu et al. 2018, Eq. 5-7; Tian et al. 2020, Sec. 3.4).

Each view ``v`` keeps a bank ``M_v`` of one L2-normalised embedding per training sample. For an
anchor embedding ``z_a`` of sample ``i`` and the bank of the other view ``b``, the positive is
``M_b[i]`` and ``K`` negatives ``M_b[j]`` are drawn uniformly. With
``P(j | z_a) = exp(M_b[j] . z_a / tau) / Z`` and noise ``P_n = 1 / n``, NCE classifies data from
noise with ``h(j) = P(j | z_a) / (P(j | z_a) + K P_n)``:

    L = -log h(i) - sum_{k=1..K} log(1 - h(j_k)).

``Z`` is estimated once, from the first batch, as ``n * mean_j exp(M_b[j] . z_a / tau)``, and held
constant afterwards, as in both papers' releases. After each step the entries of the batch are
moved towards the new embeddings, ``M_v[i] <- normalise(m M_v[i] + (1 - m) z_v)``, on every rank
with the embeddings gathered from all ranks, so the banks stay identical across GPUs.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from multiview.objectives.gather import gather_no_grad, is_distributed


def nce_loss(scores: torch.Tensor, n_data: int) -> torch.Tensor:
    """NCE loss from normalised scores ``[B, K + 1]`` (column 0 the positive), mean over the batch."""
    k = scores.shape[1] - 1
    noise = k / n_data
    eps = 1e-7
    log_pos = torch.log(scores[:, 0] / (scores[:, 0] + noise + eps))
    log_neg = torch.log(noise / (scores[:, 1:] + noise + eps))
    return -(log_pos + log_neg.sum(1)).mean()


class MemoryBankNCE(nn.Module):
    """One bank per view; ``forward`` returns the summed NCE loss over view pairs (both ways)."""

    def __init__(self, views: list[str], dim: int, n_data: int = 0, k: int = 4096,
                 temperature: float = 0.07, momentum: float = 0.5):
        super().__init__()
        self.views, self.dim, self.k = list(views), dim, k
        self.temperature, self.momentum = temperature, momentum
        for v in self.views:
            self.register_buffer(f"bank_{v}", torch.empty(0, dim))
            for w in self.views:
                if w != v:
                    self.register_buffer(f"z_{v}_{w}", torch.tensor(-1.0))
        if n_data:
            self.resize(n_data)

    @property
    def n_data(self) -> int:
        return getattr(self, f"bank_{self.views[0]}").shape[0]

    def resize(self, n_data: int, seed: int = 0) -> None:
        """(Re)create the banks with ``n_data`` random entries, as the papers initialise them."""
        g = torch.Generator().manual_seed(seed)
        std = 1.0 / math.sqrt(self.dim / 3)
        device = getattr(self, f"bank_{self.views[0]}").device
        for v in self.views:
            bank = torch.rand(n_data, self.dim, generator=g) * 2 * std - std
            setattr(self, f"bank_{v}", bank.to(device))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = f"{prefix}bank_{self.views[0]}"
        if key in state_dict and state_dict[key].shape[0] != self.n_data:
            self.resize(state_dict[key].shape[0])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def scores(self, z_anchor: torch.Tensor, bank_view: str, anchor_view: str,
               index: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """Normalised ``exp(M_b[j] . z_a / tau) / Z`` for the positive and ``K`` negatives."""
        bank = getattr(self, f"bank_{bank_view}")
        idx = torch.cat([index.view(-1, 1), negatives], 1)
        weights = bank[idx].detach()
        out = torch.exp(torch.bmm(weights, z_anchor.unsqueeze(2)).squeeze(2) / self.temperature)
        z = getattr(self, f"z_{anchor_view}_{bank_view}")
        if z.item() < 0:
            estimate = out.detach().mean() * self.n_data
            if is_distributed():
                estimate = gather_no_grad(estimate.view(1)).mean()
            z.fill_(estimate.item())
        return out / z

    def forward(self, z: dict[str, torch.Tensor], index: torch.Tensor,
                pairs: list[tuple[str, str]]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.n_data == 0:
            raise RuntimeError("memory bank has no entries: pass n_data or call resize(n)")
        z = {v: F.normalize(t.float(), dim=1) for v, t in z.items()}
        negatives = torch.randint(self.n_data, (len(index), self.k), device=index.device)
        per_pair = {}
        for a, b in pairs:
            loss_a = nce_loss(self.scores(z[a], b, a, index, negatives), self.n_data)
            loss_b = nce_loss(self.scores(z[b], a, b, index, negatives), self.n_data)
            per_pair[f"{a}-{b}"] = loss_a + loss_b
        self.update(z, index)
        return sum(per_pair.values()), per_pair

    @torch.no_grad()
    def update(self, z: dict[str, torch.Tensor], index: torch.Tensor) -> None:
        """Momentum update of the batch's entries with embeddings gathered from every rank."""
        index = gather_no_grad(index)
        for v, emb in z.items():
            bank = getattr(self, f"bank_{v}")
            emb = gather_no_grad(emb.detach())
            new = F.normalize(bank[index] * self.momentum + emb * (1 - self.momentum), dim=1)
            bank.index_copy_(0, index, new)
