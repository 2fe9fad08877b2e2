"""Instance discrimination with a non-parametric softmax (Wu, Xiong, Yu, Lin 2018, Eq. 2-7).

Each training image is its own class; its class "weight" is its entry in a memory bank of
L2-normalised features, ``v_i``. The probability of instance ``i`` for a feature ``f`` is
``P(i | f) = exp(v_i . f / tau) / Z``, estimated with NCE against ``K`` uniformly drawn noise
instances (Eq. 5-7; ``Z`` from the first batch, held constant). The bank and its NCE are
:class:`~multiview.objectives.memory_bank.MemoryBankNCE` (shared with CMC, Sec. 3.4) with one
view whose positive is the image's own entry; after each step the entries move towards the new
features with momentum (proximal regularisation, Eq. 10, is the same update).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from multiview.objectives.memory_bank import MemoryBankNCE, nce_loss


class InstanceBankNCE(MemoryBankNCE):
    """One bank, one view: ``forward(f, index)`` is the NCE loss of Eq. 7, then the bank update."""

    def __init__(self, dim: int, n_data: int = 0, k: int = 4096, temperature: float = 0.07,
                 momentum: float = 0.5, view: str = "x"):
        super().__init__([view], dim, n_data, k, temperature, momentum)
        self.view = view
        self.register_buffer(f"z_{view}_{view}", torch.tensor(-1.0))

    def forward(self, f: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        if self.n_data == 0:
            raise RuntimeError("memory bank has no entries: pass n_data or call resize(n)")
        f = F.normalize(f.float(), dim=1)
        negatives = torch.randint(self.n_data, (len(index), self.k), device=index.device)
        loss = nce_loss(self.scores(f, self.view, self.view, index, negatives), self.n_data)
        self.update({self.view: f}, index)
        return loss
