"""Two CPU processes (gloo) through Lightning's DDP give what one process gives on the global batch."""

import lightning as L
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset

from multiview.objectives.infonce import multiview_info_nce, view_pairs
from multiview.objectives.memory_bank import MemoryBankNCE

N, DIM = 16, 6
VIEWS = ["a", "b", "c"]


class PairedData(Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = {v: torch.randn(N, 10, generator=g) for v in VIEWS}

    def __len__(self):
        return N

    def __getitem__(self, i):
        return {"index": i, **{v: self.x[v][i] for v in VIEWS}}


def make_encoders():
    torch.manual_seed(1)
    return torch.nn.ModuleDict({v: torch.nn.Linear(10, DIM) for v in VIEWS})


class Probe(L.LightningModule):
    """One step of three-view InfoNCE (full graph) plus a memory-bank update; records what it saw."""

    def __init__(self, out_path: str):
        super().__init__()
        self.enc = make_encoders()
        self.bank = MemoryBankNCE(VIEWS, DIM, n_data=N, k=4)
        self.out_path = out_path

    def training_step(self, batch, _):
        z = {v: self.enc[v](batch[v]) for v in VIEWS}
        loss, _ = multiview_info_nce(z, view_pairs(VIEWS, "full"), 0.2)
        self.bank.update({v: torch.nn.functional.normalize(t, dim=1) for v, t in z.items()}, batch["index"])
        self.global_loss = self.all_gather(loss.detach()).mean()
        return loss

    def on_after_backward(self):
        grads = {k: p.grad.detach().clone() for k, p in self.enc.named_parameters()}
        banks = {v: getattr(self.bank, f"bank_{v}").clone() for v in VIEWS}
        torch.save({"loss": self.global_loss, "grads": grads, "banks": banks},
                   f"{self.out_path}.rank{dist.get_rank()}")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def train_dataloader(self):
        return DataLoader(PairedData(), batch_size=N // 2, shuffle=False)


def fit_two_ranks(probe: type, tmp_path) -> list[dict]:
    """One step of ``probe(out)`` in two gloo processes; what each rank saved to ``out.rank<r>``."""
    out = str(tmp_path / "probe")
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_steps=1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(probe(out))
    return [torch.load(f"{out}.rank{r}", weights_only=True) for r in range(2)]


@pytest.mark.slow
def test_two_process_gather_equals_single_process(tmp_path):
    ranks = fit_two_ranks(Probe, tmp_path)

    data = PairedData()
    enc = make_encoders()
    z = {v: enc[v](data.x[v]) for v in VIEWS}
    loss, _ = multiview_info_nce(z, view_pairs(VIEWS, "full"), 0.2)
    loss.backward()
    bank = MemoryBankNCE(VIEWS, DIM, n_data=N, k=4)
    bank.update({v: torch.nn.functional.normalize(t.detach(), dim=1) for v, t in z.items()}, torch.arange(N))

    for r in ranks:
        assert r["loss"].item() == pytest.approx(loss.item(), rel=1e-5)
        for name, p in enc.named_parameters():
            assert torch.allclose(r["grads"][name], p.grad, atol=1e-6, rtol=1e-4), name
        for v in VIEWS:
            assert torch.allclose(r["banks"][v], getattr(bank, f"bank_{v}"), atol=1e-6)
    # the single-process loss on half the batch differs: the test would catch missing negatives
    half, _ = multiview_info_nce({v: t[:N // 2] for v, t in z.items()}, view_pairs(VIEWS, "full"), 0.2)
    assert abs(half.item() - loss.item()) > 1e-3
