"""Two CPU processes (gloo) over three epochs: every epoch a new order, each sample once, no rank overlap."""

import json

import lightning as L
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import Dataset

from multiview.data.loader import EpochSampler, ResumableBatches

N, EPOCHS = 21, 3  # odd: one sample a epoch is left out so both ranks take the same number


class Indices(Dataset):
    def __len__(self):
        return N

    def __getitem__(self, i):
        return {"index": i, "x": torch.tensor([float(i)])}


class Data(ResumableBatches, L.LightningDataModule):
    batch_size, num_workers, seed = 2, 0, 3

    def train_dataloader(self):
        return self.make_loader(Indices(), train=True)


class Recorder(L.LightningModule):
    def __init__(self, out: str):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.out, self.seen = out, {}

    def training_step(self, batch, _):
        self.seen.setdefault(self.current_epoch, []).extend(batch["index"].tolist())
        return (self.w * batch["x"]).sum()

    def on_train_end(self):
        sampler = self.trainer.train_dataloader.sampler
        with open(f"{self.out}.rank{dist.get_rank()}", "w") as f:
            json.dump({"seen": self.seen, "sampler": type(sampler).__name__}, f)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


@pytest.mark.slow
def test_two_ranks_three_epochs(tmp_path):
    out = str(tmp_path / "seen")
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=EPOCHS, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Recorder(out), Data())
    ranks = [json.load(open(f"{out}.rank{r}")) for r in range(2)]
    assert all(r["sampler"] == "EpochSampler" for r in ranks)  # used as is, not wrapped
    orders = []
    for epoch in range(EPOCHS):
        shards = [r["seen"][str(epoch)] for r in ranks]
        assert len(shards[0]) == len(shards[1]) == N // 2 - (N // 2) % 2  # whole batches of 2
        both = shards[0] + shards[1]
        assert len(set(both)) == len(both)  # no sample on both ranks
        assert all(epoch * N <= i < (epoch + 1) * N for i in both)  # the epoch reaches the dataset
        orders.append([i - epoch * N for i in both])
    assert orders[0] != orders[1] != orders[2] != orders[0]  # a new order (and crops) every epoch


def test_rank_shards_cover_the_epoch_and_resume_on_each_rank():
    for world in (1, 2, 3):
        for epoch in range(3):
            shards = []
            for rank in range(world):
                s = EpochSampler(N, seed=3, num_replicas=world, rank=rank)
                s.set_epoch(epoch)
                shards.append(list(s))
                assert len(shards[-1]) == len(s) == N // world
            flat = [i for shard in shards for i in shard]
            assert len(set(flat)) == len(flat) == N - N % world
            assert {i - epoch * N for i in flat} <= set(range(N))
            s = EpochSampler(N, seed=3, num_replicas=world, rank=world - 1)
            s.set_epoch(epoch)
            s.resume_at = (epoch, 4)
            assert list(s) == shards[-1][4:]  # a rank resumes at its own position, inside epoch 0 too
