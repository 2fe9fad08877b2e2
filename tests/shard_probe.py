"""A LightningModule that trains two linear views over shards with gathered InfoNCE and a memory
bank, recording what each rank saw; run under ddp_spawn by the tests, or under torchrun:

    torchrun --nnodes 2 --nproc_per_node 1 --node_rank R --master_addr 127.0.0.1 --master_port P \\
        tests/shard_probe.py SHARDS OUT BATCH_SIZE
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multiview.data.video.shard_stream import ShardDataModule
from multiview.objectives.infonce import multiview_info_nce, view_pairs
from multiview.objectives.memory_bank import MemoryBankNCE

VIEWS, DIM, TAU = ["frame", "audio"], 6, 0.2


def make_encoders(frame_dim: int, audio_dim: int) -> torch.nn.ModuleDict:
    torch.manual_seed(1)
    return torch.nn.ModuleDict({"frame": torch.nn.Linear(frame_dim, DIM), "audio": torch.nn.Linear(audio_dim, DIM)})


def views(batch: dict) -> dict:
    return {"frame": batch["frame"].flatten(1), "audio": batch["audio"]}


class ShardProbe(L.LightningModule):
    def __init__(self, out: str, n_data: int, frame_dim: int, audio_dim: int):
        super().__init__()
        self.enc = make_encoders(frame_dim, audio_dim)
        self.bank = MemoryBankNCE(VIEWS, DIM, n_data=n_data, k=4)
        self.out, self.seen = out, []

    def training_step(self, batch, _):
        x = views(batch)
        z = {v: self.enc[v](x[v]) for v in VIEWS}
        loss, _ = multiview_info_nce(z, view_pairs(VIEWS, "full"), TAU)
        self.bank.update({v: torch.nn.functional.normalize(t.detach(), dim=1) for v, t in z.items()}, batch["index"])
        self.seen.append((self.current_epoch, batch["index"].tolist()))
        if self.global_step == 0:
            self.first = {"loss": self.all_gather(loss.detach()).mean(),
                          **{f"x_{v}": self.all_gather(x[v]).flatten(0, 1) for v in VIEWS},
                          "index": self.all_gather(batch["index"]).flatten()}
        return loss

    def on_after_backward(self):
        if self.global_step == 0:
            self.first["grads"] = {k: p.grad.detach().clone() for k, p in self.enc.named_parameters()}
            self.first["banks"] = {v: getattr(self.bank, f"bank_{v}").clone() for v in VIEWS}

    def on_train_end(self):
        rank = dist.get_rank() if dist.is_initialized() else 0
        torch.save({"seen": self.seen, "first": getattr(self, "first", None)}, f"{self.out}.rank{rank}")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def data(shards: str, batch_size: int, workers: int = 0) -> ShardDataModule:
    return ShardDataModule(shards=shards, frame_size=16, batch_size=batch_size, num_workers=workers, seed=5)


def main() -> None:
    shards, out, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    dm = data(shards, batch_size)
    dm.setup("fit")
    s = dm.train_set[0]
    trainer = L.Trainer(accelerator="cpu", devices=1, num_nodes=2, strategy="ddp", max_epochs=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(ShardProbe(out, len(dm.train_set), s["frame"].numel(), s["audio"].numel()), datamodule=dm)


if __name__ == "__main__":
    main()
