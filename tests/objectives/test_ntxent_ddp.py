"""NT-Xent under two CPU processes (gloo, Lightning's DDP): each rank's anchors meet the 2N - 2
negatives of the global batch at the right label offset, and the gradients equal one process's
on the whole batch (no stray 1 / world_size). Also MoCo's shuffle-BN (He et al. 2020, Sec. 3.3:
each rank's BatchNorm normalises a slice of the shuffled global batch) and queue."""

import copy

import lightning as L
import pytest
import torch
import torch.distributed as dist

from multiview.objectives.moco import KeyQueue, shuffled_encode
from multiview.objectives.ntxent import nt_xent
from tests.methods.test_cmc_ddp import N, PairedData, fit_two_ranks, make_encoders


class Probe(L.LightningModule):
    """One step of NT-Xent between views a and b, a shuffled key encoding and a queue push."""

    def __init__(self, out_path: str):
        super().__init__()
        self.enc = make_encoders()
        # a momentum encoder with BatchNorm in training mode: no gradients, batch statistics
        self.key_enc = torch.nn.Sequential(self.enc.pop("c"), torch.nn.BatchNorm1d(6)).requires_grad_(False)
        self.queue = KeyQueue(N + 4, 6)
        self.out_path = out_path

    def training_step(self, batch, _):
        z1, z2 = self.enc["a"](batch["a"]), self.enc["b"](batch["b"])
        loss = nt_xent(z1, z2, 0.3)
        self.keys, self.inputs = shuffled_encode(self.key_enc, batch["c"], seed=5), batch["c"]
        self.queue.push(self.keys)
        self.global_loss = self.all_gather(loss.detach()).mean()
        return loss

    def on_after_backward(self):
        grads = {k: p.grad.detach().clone() for k, p in self.enc.named_parameters() if p.grad is not None}
        torch.save({"loss": self.global_loss, "grads": grads, "keys": self.keys, "inputs": self.inputs,
                    "queue": self.queue.keys.clone()},
                   f"{self.out_path}.rank{dist.get_rank()}")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(PairedData(), batch_size=N // 2, shuffle=False)


@pytest.mark.slow
def test_two_process_nt_xent_equals_single_process(tmp_path):
    ranks = fit_two_ranks(Probe, tmp_path)

    data = PairedData()
    enc = make_encoders()
    loss = nt_xent(enc["a"](data.x["a"]), enc["b"](data.x["b"]), 0.3)
    loss.backward()
    key_enc = torch.nn.Sequential(enc["c"], torch.nn.BatchNorm1d(6)).requires_grad_(False)
    full = torch.cat([r["inputs"] for r in ranks])  # rank 0's samples, then rank 1's
    perm = torch.randperm(len(full), generator=torch.Generator().manual_seed(5))
    n = len(full) // 2
    # each rank normalises its slice of the shuffled global batch with its own statistics
    shuffled = torch.cat([copy.deepcopy(key_enc)(full[perm[r * n:(r + 1) * n]]) for r in range(2)])
    restored = torch.empty_like(shuffled)
    restored[perm] = shuffled
    keys = [restored[:n], restored[n:]]
    unshuffled = [copy.deepcopy(key_enc)(r["inputs"]) for r in ranks]
    assert not torch.allclose(unshuffled[0], keys[0], atol=1e-3)  # the shuffle changes BN's batches
    queue = KeyQueue(N + 4, 6)
    queue.push(torch.cat(keys))
    for rank, r in enumerate(ranks):
        assert r["loss"].item() == pytest.approx(loss.item(), rel=1e-5)
        for name in ("a.weight", "a.bias", "b.weight", "b.bias"):
            assert torch.allclose(r["grads"][name], dict(enc.named_parameters())[name].grad, atol=1e-6, rtol=1e-4), name
        assert torch.allclose(r["keys"], keys[rank], atol=1e-6)
        assert torch.allclose(r["queue"], queue.keys, atol=1e-6)
    # one process on half the batch differs: the test would catch missing negatives
    half = nt_xent(enc["a"](data.x["a"][:N // 2]), enc["b"](data.x["b"][:N // 2]), 0.3)
    assert abs(half.item() - loss.item()) > 1e-3
