"""Instance discrimination (Wu, Xiong, Yu, Lin 2018): every image its own class, a memory bank.

The encoder's features go through a linear layer to a 128-d L2-normalised ``v = f(x)`` (Sec. 3.1);
a non-parametric softmax over one memory-bank entry per training image, estimated with NCE
against ``K`` noise entries (Eq. 2-7), classifies each image as itself
(:class:`~multiview.objectives.instance.InstanceBankNCE`, the bank CMC shares). The paper trains
on one augmented view per image per step (:func:`multiview.views.augment.augment_view`); its
entry moves towards the new feature with momentum.
"""

from __future__ import annotations

import torch

from multiview.encoders.registry import EncoderSpec
from multiview.methods.base import OneEncoder
from multiview.objectives.instance import InstanceBankNCE
from multiview.views.augment import augment_view, moments, pipeline_for, view_step


class InstanceDiscrimination(OneEncoder):
    """An encoder and linear embedding trained to recognise each training image.

    Args:
        encoder: the encoder spec, e.g. ``{name: small_resnet, width: 32}``.
        view: "image", "frame", "audio" or "auto" (the training batches' picture).
        augment: fields of :class:`~multiview.views.augment.ImageAugment` (AudioAugment for sounds).
        aug_seed: seed of the views (with the global step and each sample's place in the batch).
        dim: width of the embedding (Wu et al.: 128).
        nce_k: noise samples per image (Wu et al.: 4096).
        temperature: tau of Eq. 2 (0.07).
        bank_momentum: memory-bank update momentum (0.5).
        n_data: training-set size (0: taken from the data module).
        **kwargs: ``sample_rate`` and the optimizer knobs of :class:`~multiview.methods.base.Method`.
    """

    views = OneEncoder.views + ("audio",)

    def __init__(self, encoder: EncoderSpec | None = None, view: str = "auto", augment: dict | None = None,
                 aug_seed: int = 0, dim: int = 128, nce_k: int = 4096, temperature: float = 0.07,
                 bank_momentum: float = 0.5, n_data: int = 0, **kwargs):
        super().__init__(encoder=encoder, view=view, **kwargs)
        self.save_hyperparameters()
        self.augment, self.aug_seed = pipeline_for(view, augment), aug_seed
        self.embedding = torch.nn.Linear(self.encoder.out_dim, dim)
        self.bank = InstanceBankNCE(dim, n_data, nce_k, temperature, bank_momentum)

    def setup(self, stage: str) -> None:
        if self.bank.n_data == 0 and self._trainer is not None and self.trainer.datamodule is not None:
            self.bank.resize(len(self.trainer.datamodule.train_set))

    def losses(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        x, _ = moments(self.inputs(batch, clips=True))
        x = augment_view(self.augment, x, self.aug_seed, *view_step(self, batch_idx))
        return {"loss": self.bank(self.embedding(self.encoder(x)), batch["index"])}

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        """Held-out images have no bank entries: nothing to score (the end-of-fit report probes)."""
