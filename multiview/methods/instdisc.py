"""Instance discrimination (Wu, Xiong, Yu, Lin 2018): every image its own class, a memory bank.

The encoder's features go through a linear layer to a 128-d L2-normalised ``v = f(x)`` (Sec. 3.1);
a non-parametric softmax over one memory-bank entry per training image, estimated with NCE
against ``K`` noise entries (Eq. 2-7), classifies each image as itself
(:class:`~multiview.objectives.instance.InstanceBankNCE`, the bank CMC shares). The paper trains
on one augmented view per image per step; its entry moves towards the new feature with momentum.
"""

from __future__ import annotations

import torch

from multiview.encoders.registry import EncoderSpec
from multiview.methods.ssl import SSLMethod
from multiview.objectives.instance import InstanceBankNCE


class InstanceDiscrimination(SSLMethod):
    """A frame encoder and linear embedding trained to recognise each training image.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: the encoder's view name: "image", "frame" or "auto" (the training batches' key).
        augment: fields of :class:`~multiview.views.augment.ImageAugment`.
        dim: width of the embedding (Wu et al.: 128).
        nce_k: noise samples per image (Wu et al.: 4096).
        temperature: tau of Eq. 2 (0.07).
        bank_momentum: memory-bank update momentum (0.5).
        n_data: training-set size (0: taken from the data module).
        **kwargs: optimizer knobs of :class:`~multiview.methods.base.Method` (lr, weight_decay, ...).
    """

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 dim: int = 128, nce_k: int = 4096, temperature: float = 0.07, bank_momentum: float = 0.5,
                 n_data: int = 0, **kwargs):
        super().__init__(encoder=encoder, view=view, augment=augment, **kwargs)
        self.save_hyperparameters()
        self.embedding = torch.nn.Linear(self.encoder.out_dim, dim)
        self.bank = InstanceBankNCE(dim, n_data, nce_k, temperature, bank_momentum)

    def setup(self, stage: str) -> None:
        if self.bank.n_data == 0 and self._trainer is not None and self.trainer.datamodule is not None:
            self.bank.resize(len(self.trainer.datamodule.train_set))

    def loss(self, batch: dict, batch_idx: int) -> torch.Tensor:
        x, _ = self.two_views(batch, batch_idx)
        return self.bank(self.embedding(self.encoder(x)), batch["index"])

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        """Held-out images have no bank entries: nothing to score (the end-of-fit report probes)."""
